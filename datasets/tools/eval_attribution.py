#!/usr/bin/env python3
"""Attribution accuracy on the dev set: speaker exact-set and target exact-set accuracy.

Runs the release binary on each dev document, one gold sentence a line, with the batch's
parties file; run from the repository root after `cargo build --release`:
    python3 datasets/tools/eval_attribution.py [dev|train] [miss|false|wrong N]
"""
import collections, glob, json, os, subprocess, sys, tempfile
tmp = tempfile.mkdtemp()
split = sys.argv[1] if len(sys.argv) > 1 else 'dev'
args = sys.argv[2:]
tot=sp=tg=0
cat=collections.Counter(); ex=collections.defaultdict(list)
for batch in sorted(glob.glob(f'datasets/{split}/*/')):
    for f in sorted(glob.glob(batch+'*.jsonl')):
        if f.endswith('documents.jsonl'): continue
        gold=[json.loads(l) for l in open(f)]
        txt=tmp+'/'+os.path.basename(f)[:-6]+'.txt'
        open(txt,'w').write('\n'.join(g['text'] for g in gold)+'\n')
        cmd=['target/release/partyline','attribute','--sentence-per-line','--format','jsonl',txt]
        if os.path.exists(batch+'parties.toml'):
            cmd[2:2]=['--parties',batch+'parties.toml']
        out=subprocess.run(cmd,capture_output=True,text=True)
        if out.returncode:
            sys.exit(out.stderr)
        recs=[json.loads(l) for l in out.stdout.splitlines()]
        for g,r in zip(gold,recs):
            tot+=1
            a=sorted(g['speakers'])==sorted(r['speakers']); b=sorted(g['targets'])==sorted(r['targets'])
            sp+=a; tg+=b
            if not a:
                k='miss' if not r['speakers'] else 'false' if not g['speakers'] else 'wrong'
                cat[k]+=1; ex[k].append((g['speakers'],r['speakers'],r['attribution'],g['text'][:150]))
print(f'{tot} {split} sentences: speakers exact-set accuracy {sp/tot:.3f}, targets {tg/tot:.3f}; speaker errors {dict(cat)}')
if args:
    for x in ex[args[0]][:int(args[1])]: print(x)

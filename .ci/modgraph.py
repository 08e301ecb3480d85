#!/usr/bin/env python3
"""Module import graph of a Rust crate's src/: edges from each file to the file that defines
what it names through `crate::`, `super::` or `self::` paths (use declarations and inline
paths), following `pub use` re-exports; reports cycles (strongly connected components) and
forbidden edges."""
import os, re, sys

root = sys.argv[1] if len(sys.argv) > 1 else 'src'
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3]
            parts = rel.split(os.sep)
            if parts[-1] in ('mod', 'lib', 'main'):
                parts = parts[:-1]
            files[tuple(parts)] = open(p).read()

def strip(text):
    text = re.sub(r'//[^\n]*', '', text)
    # `pub(in crate::cli)` is a visibility, not a use
    text = re.sub(r'pub\(in [^)]*\)', 'pub', text)
    text = re.sub(r'"(\\.|[^"\\])*"', '""', text)
    # test modules are not part of the graph
    i = text.find('#[cfg(test)]')
    return text if i < 0 else text[:i]

src = {m: strip(t) for m, t in files.items()}
ITEM = r'(?:pub(?:\([^)]*\))?\s+)?(?:const\s+fn|async\s+fn|fn|struct|enum|trait|type|const|static|mod|macro_rules!)\s+'

def defines(mod, name):
    return re.search(ITEM + re.escape(name) + r'\b', src.get(mod, '')) is not None

def reexport(mod, name):
    """A `pub use a::b::{.., name, ..}` in mod: the path it comes from."""
    for m in re.finditer(r'pub(?:\([^)]*\))?\s+use\s+([^;]+);', src.get(mod, '')):
        for path in expand(m.group(1)):
            segs = path.split('::')
            last = segs[-1].split(' as ')[-1].strip()
            if last == name:
                return segs
    return None

def expand(tree):
    tree = tree.strip()
    i = tree.find('{')
    if i < 0:
        return [tree]
    prefix, inner = tree[:i], tree[i + 1:tree.rindex('}')]
    parts, depth, cur = [], 0, ''
    for ch in inner:
        if ch == ',' and depth == 0:
            parts.append(cur); cur = ''
            continue
        depth += ch == '{'; depth -= ch == '}'
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        p = p.strip()
        if p:
            out += [prefix + q for q in expand(p)]
    return out

def resolve(mod, segs, seen=0):
    """The file (module tuple) a path from `mod` names."""
    if seen > 10 or not segs:
        return None
    head, rest = segs[0], segs[1:]
    if head == 'crate':
        base = ()
    elif head == 'super':
        base = mod[:-1]
    elif head == 'self':
        base = mod
    else:
        return None
    while rest and rest[0] == 'super':
        base = base[:-1]; rest = rest[1:]
    cur = base
    for i, s in enumerate(rest):
        s = s.split(' as ')[0].strip()
        if s in ('self', '*', ''):
            return cur
        if cur + (s,) in src:
            cur = cur + (s,)
            continue
        if defines(cur, s):
            return cur
        r = reexport(cur, s)
        if r is not None:
            if r[0] not in ('crate', 'super', 'self'):
                r = ['self'] + r
            return resolve(cur, r, seen + 1)
        return cur
    return cur

edges = {m: set() for m in src}
for mod, text in src.items():
    paths = []
    for m in re.finditer(r'\buse\s+([^;]+);', text):
        paths += expand(m.group(1))
    for m in re.finditer(r'(?<![\w:])(\w+)(?:::\w+)+', re.sub(r'\buse\s+[^;]+;', '', text)):
        paths.append(m.group(0))
    for p in paths:
        segs = [s.strip() for s in p.split('::')]
        if segs[0] not in ('crate', 'super', 'self'):
            # A path from a child module of this one (`log::alarms(..)`, `use args::X`).
            if mod + (segs[0],) in src:
                segs = ['self'] + segs
            else:
                continue
        target = resolve(mod, segs)
        if target is not None and target != mod:
            edges[mod].add(target)

# Tarjan
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        sccs.append(comp)
sys.setrecursionlimit(10000)
for v in src:
    if v not in index:
        visit(v)

name = lambda m: '::'.join(('crate',) + m)
bad = 0
for comp in sccs:
    if len(comp) > 1:
        bad += 1
        print('CYCLE:', ', '.join(sorted(name(m) for m in comp)))
for (a, b) in [(('tui',), ('cli',)), (('cli',), ('tui',))]:
    for m, ts in edges.items():
        if m[:1] == a:
            for t in ts:
                if t[:1] == b:
                    print('EDGE', name(m), '->', name(t))
if '-v' in sys.argv:
    for m in sorted(edges):
        print(name(m), '->', ', '.join(sorted(name(t) for t in edges[m])))
print(f'{len(src)} modules, {sum(len(e) for e in edges.values())} edges, {bad} cycles')
sys.exit(1 if bad else 0)

#!/usr/bin/env python3
"""No import cycle between sibling modules of any crate: `scripts/module-cycles.py [repo]`.

Every crate under crates/*/src (lib.rs and main.rs each a tree of modules) is read, and for
every module its child modules are siblings of one another. Sibling A depends on sibling B
when code anywhere in A's subtree names something in B's subtree by path: `use crate::b::X`,
`crate::b::f()`, `super::b::X`, `super::super::b`, `use super::{b, c::D}`, `$crate::b`. A
child naming its ancestors (`super::Item`, defined in the parent) and a parent naming its
descendants are not edges: that is the normal layering. A cycle among siblings, at any depth
(A -> B -> A, A -> B -> C -> A), is what this refuses. Each cycle is printed with the
file:line of every edge inside it; the exit status is 1 if there is any, else 0.

A name reached through a `use` (private or `pub`) of the module it is named from is followed
to where that `use` points (`use super::Foo` where the parent has `pub use b::Foo;` is an edge
to `b`), as are glob imports (`pub use b::*`) when `b` visibly defines the name.

Not counted: `#[cfg(test)]` items, modules named `tests`, files named `tests.rs` or under a
`tests/` directory (tests may reach anywhere); tests/, benches/ and examples/ of a crate.

Limits (it reads tokens, it does not compile): it sees only names written as paths. A method
called on a value, a type inferred from another module's function, or a name brought in by a
glob whose source it cannot list (`use super::*`, an enum's variants) make no edge (a glob
from an ancestor counts as the ancestor). A macro is attributed to the module that defines it,
not to the modules that invoke it; macros used by their bare name (textual scope) make no
edge. `#[path]` attributes, `include!` and modules declared inside macro bodies are ignored;
a `use` inside a function is treated as a `use` of its module. Only `#[cfg(test)]` is
recognised as test-only (not `cfg(any(test, ...))`).
"""

import bisect
import re
import sys
from pathlib import Path

TOKEN = re.compile(
    r"""(?P<skip>\s+|//[^\n]*)
      | (?P<comment>/\*)
      | (?P<raw>[bc]?r(?P<hashes>\#*)")
      | (?P<str>[bc]?")
      | (?P<char>b?'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])')
      | (?P<lifetime>'[A-Za-z_]\w*)
      | (?P<id>(?:r\#)?[A-Za-z_]\w*|\$crate)
      | (?P<num>[0-9]\w*(?:\.[0-9]\w*)?)
      | (?P<sep>::)
      | (?P<punct>.)""",
    re.X | re.S,
)
ITEMS = {"fn", "struct", "enum", "union", "trait", "type", "const", "static"}
KEYWORDS = {"crate", "$crate", "self", "super"}


def tokenize(src):
    """(text, line) of each identifier, `::` and punctuation; comments, literals dropped."""
    newlines = [i for i, c in enumerate(src) if c == "\n"]
    toks, pos = [], 0
    while pos < len(src):
        m = TOKEN.match(src, pos)
        kind, start, pos = m.lastgroup, m.start(), m.end()
        if kind == "comment":  # block comments nest
            depth = 1
            while depth and pos < len(src):
                if src.startswith("/*", pos):
                    depth, pos = depth + 1, pos + 2
                elif src.startswith("*/", pos):
                    depth, pos = depth - 1, pos + 2
                else:
                    pos += 1
        elif kind == "raw":
            end = src.find('"' + m.group("hashes"), pos)
            pos = len(src) if end < 0 else end + 1 + len(m.group("hashes"))
        elif kind == "str":
            while pos < len(src) and src[pos] != '"':
                pos += 2 if src[pos] == "\\" else 1
            pos += 1
        elif kind in ("id", "sep", "punct"):
            text = m.group().removeprefix("r#")
            toks.append((text, bisect.bisect(newlines, start) + 1))
    return toks


class Module:
    def __init__(self, path, parent):
        self.path, self.parent = path, parent
        self.children = {}  # name -> Module
        self.aliases = {}  # name -> path as written in this module (from a `use`)
        self.globs = []  # paths of `use ...::*`
        self.items = set()  # names defined here
        self.refs = []  # (path as written, file, line, from_use)


def matching(toks, i):
    """Index after the bracket that closes the one at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j][0] in "([{":
            depth += 1
        elif toks[j][0] in ")]}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(toks)


def skip_item(toks, i):
    """Index after the item at toks[i]: its `;`, `,` or the block it ends with."""
    depth = 0
    while i < len(toks):
        t = toks[i][0]
        if t in "([{":
            depth += 1
        elif t in ")]}":
            if depth == 0:
                return i
            depth -= 1
            if depth == 0 and t == "}":
                return i + 1
        elif depth == 0 and t in ";,":
            return i + 1
        i += 1
    return i


def parse_use(toks, j, prefix, out):
    """Parses one use tree at toks[j]; appends (path, bound name or '*', line) to out."""
    segs = list(prefix)
    if toks[j][0] == "::":  # `::std::...`: outside the crate
        segs, j = ["::"], j + 1
    while True:
        t, line = toks[j]
        if t == "{":
            j += 1
            while toks[j][0] != "}":
                j = parse_use(toks, j, segs, out)
                if toks[j][0] == ",":
                    j += 1
            return j + 1
        if t == "*":
            out.append((segs, "*", line))
            return j + 1
        segs, j = segs + [t], j + 1
        if toks[j][0] == "::":
            j += 1
            continue
        name = segs[-1]
        if toks[j][0] == "as":
            name, j = toks[j + 1][0], j + 2
        if segs[-1] == "self":  # `a::{self}`
            segs = segs[:-1]
            name = segs[-1] if name == "self" else name
        out.append((segs, name, line))
        return j


class Crate:
    def __init__(self, root_file):
        self.src = root_file.parent
        self.root = Module((), None)
        self.modules = [self.root]
        self.parse(self.root, root_file, self.src)

    def parse(self, mod, file, child_dir):
        self.walk(tokenize(file.read_text()), 0, mod, file, child_dir, False)

    def walk(self, toks, i, mod, file, child_dir, in_macro):
        """Reads toks from i up to the `}` closing the block; returns the index after it."""
        at = lambda k: toks[k][0] if 0 <= k < len(toks) else ""
        while i < len(toks):
            t, line = toks[i]
            if t == "}":
                return i + 1
            if t == "#" and at(i + 1) in ("[", "!"):
                inner = at(i + 1) == "!"
                end = matching(toks, i + 1 + inner)
                attr = "".join(x for x, _ in toks[i + 2 + inner : end - 1])
                if attr == "cfg(test)" and inner:
                    return len(toks)
                i = skip_item(toks, end) if attr == "cfg(test)" else end
            elif t == "mod" and not in_macro and at(i + 2) in (";", "{"):
                name = at(i + 1)
                if name == "tests":
                    i = skip_item(toks, i)
                    continue
                child = Module(mod.path + (name,), mod)
                mod.children[name] = child
                self.modules.append(child)
                if at(i + 2) == "{":
                    i = self.walk(toks, i + 3, child, file, child_dir / name, False)
                    continue
                for f in (child_dir / f"{name}.rs", child_dir / name / "mod.rs"):
                    test_file = "tests" in f.relative_to(self.src).parts[:-1] or f.name == "tests.rs"
                    if f.exists() and not test_file:
                        self.parse(child, f, child_dir / name)
                        break
                i += 3
            elif t == "use" and not in_macro:
                leaves = []
                i = parse_use(toks, i + 1, [], leaves)
                for segs, name, at_line in leaves:
                    mod.refs.append((segs, file, at_line, True))
                    if name == "*":
                        mod.globs.append(segs)
                    elif name != "_":
                        mod.aliases[name] = segs
            elif t == "macro_rules" and at(i + 1) == "!":
                mod.items.add(at(i + 2))
                if at(i + 3) == "{":
                    i = self.walk(toks, i + 4, mod, file, child_dir, True)
                else:
                    i += 3
            elif t == "{":
                i = self.walk(toks, i + 1, mod, file, child_dir, in_macro)
            else:
                if t in ITEMS and not in_macro and re.match(r"\w+$", at(i + 1)):
                    mod.items.add(at(i + 1))
                if at(i + 1) == "::" and re.match(r"[\w$]+$", t) and at(i - 1) != "::":
                    segs, j = [t], i + 1
                    while at(j) == "::" and re.match(r"\w+$", at(j + 1)):
                        segs, j = segs + [at(j + 1)], j + 2
                    mod.refs.append((segs, file, line, False))
                    i = j
                    continue
                i += 1
        return i

    def module_at(self, path):
        node = self.root
        for name in path:
            node = node.children.get(name)
            if node is None:
                return None
        return node

    def absolute(self, mod, segs, depth=0):
        """The path from the crate root of what `segs`, written in `mod`, names; None if outside."""
        head = segs[0]
        if head in ("crate", "$crate"):
            return list(segs[1:])
        if head in ("self", "super"):
            while segs and segs[0] in ("self", "super"):
                mod = mod.parent if segs[0] == "super" else mod
                segs = segs[1:]
            return None if mod is None else list(mod.path) + list(segs)
        if head in mod.children or head in mod.items:
            return list(mod.path) + list(segs)
        if head in mod.aliases and depth < 10:
            base = self.absolute(mod, mod.aliases[head], depth + 1)
            return None if base is None else base + list(segs[1:])
        return None  # another crate, std, a local name

    def owner(self, path, depth=0):
        """The module that holds what the absolute `path` names, through uses and globs."""
        node = self.root
        for i, name in enumerate(path):
            if name in node.children:
                node = node.children[name]
                continue
            target = node.aliases.get(name)
            for glob in node.globs if target is None else []:
                source = self.module_at(self.absolute(node, glob) or ["::"])
                if source and (name in source.children or name in source.items or name in source.aliases):
                    target = glob + [name]
                    break
            if target is not None and depth < 10:
                full = self.absolute(node, target)
                if full is not None:
                    return self.owner(full + list(path[i + 1 :]), depth + 1)
            return node
        return node

    def edges(self):
        """{(parent's path, sibling a, sibling b): [(file, line, path as written)]}."""
        edges = {}
        for mod in self.modules:
            for segs, file, line, from_use in mod.refs:
                if not from_use and segs[0] not in KEYWORDS and segs[0] not in mod.children:
                    continue  # a name a `use` brought in: that `use` is the edge
                path = self.absolute(mod, segs)
                if path is None:
                    continue
                target = self.owner(path).path
                k = 0
                while k < min(len(mod.path), len(target)) and mod.path[k] == target[k]:
                    k += 1
                if k < len(mod.path) and k < len(target):  # neither is the other's ancestor
                    edge = (target[:k], mod.path[k], target[k])
                    edges.setdefault(edge, []).append((file, line, "::".join(segs)))
        return edges


def cycles(edges):
    """[(parent's path, siblings that all reach one another)], each group of 2 or more."""
    graph = {}
    for parent, a, b in edges:
        graph.setdefault(parent, {}).setdefault(a, set()).add(b)
    found = []
    for parent, succ in sorted(graph.items()):
        reach = {}
        for start in succ:
            seen, todo = set(), [start]
            while todo:
                for nxt in succ.get(todo.pop(), ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            reach[start] = seen
        groups = {frozenset(b for b in reach[a] if b in reach and a in reach[b]) for a in succ}
        found += [(parent, sorted(g)) for g in groups if len(g) > 1]
    return sorted(found)


def shortest_cycle(edges, parent, group):
    """One cycle through the first module of the group, as a list of names."""
    start = group[0]
    paths, todo = {start: [start]}, [start]
    while todo:
        a = todo.pop(0)
        for b in sorted(b for (p, x, b) in edges if p == parent and x == a and b in group):
            if b == start:
                return paths[a] + [start]
            if b not in paths:
                paths[b] = paths[a] + [b]
                todo.append(b)
    return group


def main():
    repo = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent.parent).resolve()
    n_crates = n_modules = n_cycles = 0
    for crate_dir in sorted((repo / "crates").iterdir()):
        roots = [crate_dir / "src" / f for f in ("lib.rs", "main.rs")]
        roots = [root for root in roots if root.exists()]
        n_crates += bool(roots)
        for root in roots:
            crate = Crate(root)
            n_modules += len(crate.modules)
            edges = crate.edges()
            for parent, group in cycles(edges):
                n_cycles += 1
                where = "::".join(("crate",) + parent)
                print(f"cycle in {root.relative_to(repo)}, among the modules of {where}: "
                      + " -> ".join(shortest_cycle(edges, parent, group)))
                for (p, a, b), refs in sorted(edges.items()):
                    if p == parent and a in group and b in group:
                        print(f"  {a} -> {b}")
                        for file, line, path in refs[:4]:
                            print(f"    {file.relative_to(repo)}:{line}: {path}")
                        if len(refs) > 4:
                            print(f"    ... and {len(refs) - 4} more")
    status = f"{n_cycles} cycle{'s' * (n_cycles != 1)}" if n_cycles else "no cycles"
    print(f"{n_crates} crates, {n_modules} modules, {status}")
    return 1 if n_cycles else 0


if __name__ == "__main__":
    sys.exit(main())

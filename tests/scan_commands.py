#!/usr/bin/env python3
"""Lists the external commands the project's scripts call (tests/check_commands.sh
uses it; run alone it prints what it found).

  tests/scan_commands.py [--known FILE] [FILE...]

Reads every shell script (*.sh, or a bash/sh shebang), every Python script
(*.py: the shell strings and argument lists handed to subprocess or
os.system, and to this file's own functions that pass their argument on to
them), the sh/bash/console blocks and indented code blocks of the Markdown
files, and the find_program()/run_command() calls of the meson.build files.
Without FILEs: the repository's tracked and untracked, not ignored, files.

A command word is what a shell would execute: the first word of each simple
command (after |, &&, ||, ;, &, newline, (, $(...), `...`, <(...), if,
while, !, ...), looking through the prefixes that run another command: sudo,
exec, env, timeout, nice, nohup, setsid, stdbuf, taskset, command,
`ip netns exec NS`, `bash|sh -c STRING`, eval and trap STRING, and the
project's own wrappers (WRAPPERS below). Not reported: shell builtins and
keywords, functions defined in any scanned script, paths (anything with a
/), words that come from a variable ($x), and Tern's own executables
(executable('NAME') in a meson.build).

Output, one a line: COMMAND<TAB>FILE:LINE (every use), sorted. With
--known FILE (one command a line, # comments), prints only the uses of
commands that FILE does not list, and exits 1 if there are any.
"""
import ast
import os
import re
import subprocess
import sys

BUILTINS = set("""
. : [ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs
disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local
logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend
test times trap true type typeset ulimit umask unalias unset wait
""".split())
KEYWORDS = set("if then else elif fi case esac for select while until do done in function time { } ! [[ ]]".split())
# Project shell functions that run their arguments as a command: name -> leading arguments to skip.
WRAPPERS = {"tern_wait_for": 2, "step": 1, "interop_in_peer": 0, "inpeer": 0}
# Commands that run the rest of their arguments as a command, after options.
# Value: number of non-option words before the command (timeout's duration, taskset's mask).
PREFIXES = {"sudo": 0, "exec": 0, "env": 0, "timeout": 1, "nice": 0, "nohup": 0, "setsid": 0, "stdbuf": 0,
            "command": 0, "time": 0, "taskset": 1}
# Options of those prefixes that take a separate argument.
PREFIX_OPTARGS = {"sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-U"}, "timeout": {"-s", "-k", "--signal", "--kill-after"},
                  "nice": {"-n"}, "stdbuf": {"-i", "-o", "-e"}, "env": {"-u", "-C", "-S"}, "taskset": set()}
ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")
DYN = "\x00"  # stands for an expansion in a word's literal value
OPS = ["&&", "||", ";;", ";&", "|&", "&>>", "&>", "<<<", "<<-", "<<", ">>", "<>", ">&", "<&", ">|",
       "|", "&", ";", "(", ")", "<", ">", "\n"]
REDIRS = {"&>>", "&>", "<<<", ">>", "<>", ">&", "<&", ">|", "<", ">"}


class Word:
    def __init__(self, raw, literal, line):
        self.raw, self.literal, self.line = raw, literal, line

    def dynamic(self):
        return DYN in self.literal


class Op:
    def __init__(self, op, line):
        self.op, self.line = op, line


class Shell:
    """A small lexer for the bash the project writes; records command words."""

    def __init__(self, text, path, line, out, funcs, python_bodies):
        self.s, self.i, self.path, self.line = text, 0, path, line
        self.out, self.funcs, self.python_bodies = out, funcs, python_bodies
        self.heredocs = []  # (delimiter, strip_tabs, is_python, line)

    # ---- lexing ----
    def peek(self, k=0):
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def adv(self, n=1):
        for _ in range(n):
            if self.i < len(self.s) and self.s[self.i] == "\n":
                self.line += 1
            self.i += 1

    def sub(self, end):
        """Lexes and interprets a nested command list up to `end` (')' or '`'); returns its raw text."""
        start = self.i
        toks = self.tokens(end)
        interpret(toks, self)
        return self.s[start:self.i]

    def skip_balanced(self, open_, close):
        depth = 1
        while self.i < len(self.s) and depth:
            c = self.peek()
            if c == "\\":
                self.adv(2)
                continue
            if c in "'\"":
                self.quoted(c)
                continue
            if c == open_:
                depth += 1
            elif c == close:
                depth -= 1
            self.adv()

    def quoted(self, q):
        """Reads a quoted string starting at the quote; returns its literal value."""
        self.adv()
        lit = []
        if q == "'":
            while self.i < len(self.s) and self.peek() != "'":
                lit.append(self.peek())
                self.adv()
            self.adv()
            return "".join(lit)
        while self.i < len(self.s) and self.peek() != '"':
            c = self.peek()
            if c == "\\":
                lit.append(self.peek(1))
                self.adv(2)
            elif c == "$" or c == "`":
                self.dollar()
                lit.append(DYN)
            else:
                lit.append(c)
                self.adv()
        self.adv()
        return "".join(lit)

    def dollar(self):
        """At a $ or a backquote: skips the expansion, interpreting command substitutions."""
        if self.peek() == "`":
            self.adv()
            self.sub("`")
            self.adv()
            return
        if self.peek(1) == "(" and self.peek(2) == "(":
            self.adv(3)
            self.skip_balanced("(", ")")
            self.adv()  # the second )
        elif self.peek(1) == "(":
            self.adv(2)
            self.sub(")")
            self.adv()
        elif self.peek(1) == "{":
            self.adv(2)
            start = self.i
            self.skip_balanced("{", "}")
            m = re.match(r"(CC|CXX):?-([A-Za-z0-9_.+-]+)$", self.s[start:self.i - 1])
            if m:  # ${CXX:-c++}: the default compiler is a command the script runs
                self.record(m.group(2), self.line)
        else:
            self.adv()
            if re.match(r"[A-Za-z_]", self.peek()):
                while re.match(r"\w", self.peek()):
                    self.adv()
            elif self.peek() and self.peek() in "0123456789@#?$!*-":
                self.adv()  # $1 $@ $# $? $$ $! $* $-

    def word(self):
        start, line, lit = self.i, self.line, []
        while self.i < len(self.s):
            c = self.peek()
            if c in " \t\n;&|<>()" and not (c == "(" and ASSIGN.match("".join(lit)) and "".join(lit).endswith("=")):
                break
            if c == "(":  # arr=( ... ): an array literal is part of the word
                self.adv()
                self.skip_balanced("(", ")")
                lit.append(DYN)
                continue
            if c == "\\":
                if self.peek(1) == "\n":
                    self.adv(2)
                    continue
                lit.append(self.peek(1))
                self.adv(2)
            elif c in "'\"":
                lit.append(self.quoted(c))
            elif c == "$" or c == "`":
                self.dollar()
                lit.append(DYN)
            else:
                lit.append(c)
                self.adv()
        return Word(self.s[start:self.i], "".join(lit), line)

    def read_heredocs(self):
        for delim, strip, is_python, line in self.heredocs:
            body_line = self.line
            body = []
            while self.i < len(self.s):
                j = self.s.find("\n", self.i)
                j = len(self.s) if j < 0 else j
                text = self.s[self.i:j]
                self.adv(j - self.i + 1)
                if (text.lstrip("\t") if strip else text) == delim:
                    break
                body.append(text)
            if is_python:
                self.python_bodies.append(("\n".join(body), body_line))
        self.heredocs = []

    def tokens(self, end=None):
        """Tokens up to `end` (not consumed) or the end of the text."""
        toks = []
        depth = 0
        while self.i < len(self.s):
            c = self.peek()
            if end == "`" and c == "`":
                return toks
            if c in " \t":
                self.adv()
                continue
            if c == "\\" and self.peek(1) == "\n":
                self.adv(2)
                continue
            if c == "#" and (not toks or isinstance(toks[-1], Op) or self.s[self.i - 1] in " \t\n"):
                while self.i < len(self.s) and self.peek() != "\n":
                    self.adv()
                continue
            if c == "(" and self.peek(1) == "(" and (not toks or isinstance(toks[-1], Op) or toks[-1].raw == "for"):
                self.adv(2)  # (( arithmetic ))
                self.skip_balanced("(", ")")
                self.adv()
                toks.append(Word("((", "((", self.line))
                continue
            if c in "<>" and self.peek(1) == "(":  # process substitution
                self.adv(2)
                self.sub(")")
                self.adv()
                toks.append(Word("<()", DYN, self.line))
                continue
            if re.match(r"[0-9]", c) and re.match(r"[0-9]*[<>]", self.s[self.i:self.i + 4]) and \
                    (not toks or isinstance(toks[-1], Op) or self.s[self.i - 1] in " \t"):
                while re.match(r"[0-9]", self.peek()):  # 2>file, 3<>/dev/tcp/...
                    self.adv()
                c = self.peek()
            op = next((o for o in OPS if self.s.startswith(o, self.i)), None)
            if op:
                if op == "(":
                    depth += 1
                elif op == ")":
                    if depth == 0 and end == ")":
                        return toks
                    depth -= 1
                line = self.line
                self.adv(len(op))
                if op in ("<<", "<<-"):
                    while self.peek() in " \t":
                        self.adv()
                    w = self.word()
                    delim = w.literal
                    src = self.s[self.s.rfind("\n", 0, self.i) + 1:self.s.find("\n", self.i)]
                    self.heredocs.append((delim, op == "<<-", bool(re.search(r"\bpython3?\b", src)), line))
                    toks.append(Op("<<", line))
                    toks.append(Word(w.raw, w.literal, line))
                    continue
                if op == "\n":
                    toks.append(Op("\n", line))
                    if self.heredocs:
                        self.read_heredocs()
                    continue
                toks.append(Op(op, line))
                continue
            toks.append(self.word())
        return toks

    def record(self, name, line):
        self.out.append((name, self.path, line))

    def rescan(self, text, line):
        Shell(text, self.path, line, self.out, self.funcs, self.python_bodies).run()

    def run(self):
        toks = self.tokens()
        interpret(toks, self)


def unquote_raw(w):
    r = w.raw
    if len(r) >= 2 and r[0] == r[-1] and r[0] in "'\"":
        return r[1:-1]
    return w.literal.replace(DYN, "$x")


def command_words(words, sh):
    """words: the words of one simple command (assignments and redirections removed)."""
    i = 0
    while i < len(words):
        w = words[i]
        if w.dynamic():
            # An unquoted $VAR may expand to nothing ($SUDO): then the next word is the command.
            if re.fullmatch(r"\$\{?[A-Za-z_]\w*\}?", w.raw) and i + 1 < len(words) and \
                    re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*", words[i + 1].raw):
                i += 1
                continue
            return
        name = w.literal
        if "/" in name or not name:
            return
        if name in KEYWORDS:
            i += 1
            continue
        sh.record(name, w.line)
        rest = words[i + 1:]
        if name in ("bash", "sh") and len(rest) >= 2 and rest[0].literal == "-c":
            sh.rescan(unquote_raw(rest[1]), rest[1].line)
            return
        if name == "eval" and rest:
            sh.rescan(" ".join(unquote_raw(x) for x in rest), rest[0].line)
            return
        if name == "trap" and rest and rest[0].literal not in ("-", "-p", "-l"):
            sh.rescan(unquote_raw(rest[0]), rest[0].line)
            return
        if name == "ip" and len(rest) >= 3 and rest[0].literal == "netns" and rest[1].literal == "exec":
            i += 4
            continue
        if name in WRAPPERS:
            i += 1 + WRAPPERS[name]
            continue
        if name in PREFIXES:
            j = i + 1
            if name == "command" and j < len(words) and words[j].literal.startswith("-"):
                return  # command -v NAME: a lookup
            while j < len(words) and (words[j].literal.startswith("-") or (name == "env" and ASSIGN.match(words[j].literal))):
                if words[j].literal in PREFIX_OPTARGS.get(name, ()):
                    j += 1
                j += 1
            if name == "exec" and j >= len(words):
                return
            i = j + PREFIXES[name]
            continue
        return


def interpret(toks, sh):
    """Walks the tokens of a command list; records command words."""
    i, n = 0, len(toks)
    case_stack = []  # True while reading patterns
    words = []
    at_start = True

    def flush():
        nonlocal words
        if words:
            command_words(words, sh)
        words = []

    while i < n:
        t = toks[i]
        if isinstance(t, Op):
            if t.op in REDIRS or t.op == "<<":
                i += 2  # the target word
                continue
            if case_stack and case_stack[-1] and t.op == ")":
                case_stack[-1] = False
                at_start = True
                i += 1
                continue
            if case_stack and case_stack[-1]:
                i += 1
                continue
            if t.op == "(" and words and not at_start:
                if len(words) == 1 and i + 1 < n and isinstance(toks[i + 1], Op) and toks[i + 1].op == ")":
                    sh.funcs.add(words[0].literal)  # name() {
                    words = []
                    i += 2
                    at_start = True
                    continue
                # Not shell (prose in a code block): skip the rest of the line.
                words = []
                while i < n and not (isinstance(toks[i], Op) and toks[i].op == "\n"):
                    i += 1
                continue
            flush()
            if t.op in (";;", ";&") and case_stack:
                case_stack[-1] = True
            at_start = True
            i += 1
            continue
        # a word
        if case_stack and case_stack[-1]:
            if t.literal == "esac":
                case_stack.pop()
            i += 1
            continue
        if at_start and not words:
            lit = t.literal
            if lit == "esac" and case_stack:
                case_stack.pop()
                i += 1
                continue
            if lit == "case":
                # case WORD in
                i += 3
                case_stack.append(True)
                continue
            if lit in ("for", "select"):
                while i < n and not (isinstance(toks[i], Op) and toks[i].op in (";", "\n")):
                    i += 1
                continue
            if lit == "[[":
                while i < n and not (isinstance(toks[i], Word) and toks[i].literal == "]]"):
                    i += 1
                i += 1
                at_start = False
                continue
            if lit == "function" and i + 1 < n:
                sh.funcs.add(toks[i + 1].literal)
                i += 2
                continue
            if lit == "((":
                i += 1
                at_start = False
                continue
            if lit in KEYWORDS:
                i += 1
                continue
            m = ASSIGN.match(lit) if not t.raw.startswith(("'", '"')) else None
            if m:
                var = re.match(r"[A-Za-z_]\w*", lit).group(0)
                val = lit[m.end():]
                if var in ("CC", "CXX") and re.fullmatch(r"[A-Za-z0-9_.+-]+", val):
                    sh.record(val, t.line)  # CC=clang meson setup: the compiler is a command
                i += 1
                continue
        words.append(t)
        at_start = False
        i += 1
    flush()


# ---- Python ----
SUBPROCESS = {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput", "system",
              "spawnlp", "execlp", "execvp"}


def callee(call):
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def string_values(node, scope, seen=None):
    """Possible string values of an expression, with DYN for the parts computed at run time."""
    seen = seen or set()
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return [re.sub(r"%[-#0 +]*[0-9.]*[sdrxif]", "$x", v) for v in string_values(node.left, scope, seen)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in string_values(node.left, scope, seen) for b in string_values(node.right, scope, seen)]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "$x" for v in node.values)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return [re.sub(r"\{[^}]*\}", "$x", v) for v in string_values(node.func.value, scope, seen)]
    if isinstance(node, ast.Name) and node.id not in seen:
        seen.add(node.id)
        vals = []
        for a in ast.walk(scope):
            if isinstance(a, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets):
                vals += string_values(a.value, scope, seen)
        return vals or ["$x"]
    return ["$x"]


def scan_python(src, path, line0, out, funcs):
    try:
        tree = ast.parse(src)
    except SyntaxError as e:
        out.append(("<python syntax error: %s>" % e.msg, path, line0 + (e.lineno or 1) - 1))
        return
    # Functions of this file that hand their first parameter to subprocess (ab.py's sh() and start()).
    runners = set(SUBPROCESS)
    changed = True
    while changed:
        changed = False
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef) or fn.name in runners:
                continue
            params = [a.arg for a in fn.args.args if a.arg not in ("self", "cls")]
            if not params:
                continue
            for c in ast.walk(fn):
                if isinstance(c, ast.Call) and callee(c) in runners and c.args and \
                        isinstance(c.args[0], ast.Name) and c.args[0].id == params[0]:
                    runners.add(fn.name)
                    changed = True
                    break
    scopes = {}
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef):
            for c in ast.walk(fn):
                scopes[id(c)] = fn  # ast.walk goes outside in: the innermost function wins
    for c in ast.walk(tree):
        if not (isinstance(c, ast.Call) and callee(c) in runners and c.args):
            continue
        arg, line = c.args[0], line0 + c.lineno - 1
        scope = scopes.get(id(c), tree)
        if isinstance(arg, (ast.List, ast.Tuple)):
            if arg.elts:
                for v in string_values(arg.elts[0], scope):
                    if "$x" not in v and "/" not in v:
                        out.append((v, path, line))
            continue
        for v in string_values(arg, scope):
            Shell(v, path, line, out, funcs, []).run()


# ---- Markdown ----
def markdown_blocks(text):
    """(code, first line) of the sh/bash/shell/console fences and the indented code blocks."""
    lines = text.split("\n")
    i, blocks, prev_blank = 0, [], True
    while i < len(lines):
        m = re.match(r"^\s*(```+|~~~+)\s*(\w*)", lines[i])
        if m:
            fence, lang, start = m.group(1), m.group(2).lower(), i + 1
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                i += 1
            if lang in ("sh", "bash", "shell", "console"):
                body = lines[start:i]
                if lang == "console":
                    body = [l[2:] if l.startswith("$ ") or l.startswith("# ") else "" for l in body]
                blocks.append(("\n".join(body), start + 1))
            i += 1
            prev_blank = False
            continue
        if prev_blank and lines[i].startswith("    ") and lines[i].strip():
            start = i
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                i += 1
            blocks.append(("\n".join(l[4:] for l in lines[start:i]), start + 1))
            prev_blank = True
            continue
        prev_blank = not lines[i].strip()
        i += 1
    return blocks


def repo_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard"],
                             check=True, capture_output=True, text=True).stdout.split("\n")
        return sorted(set(f for f in out if f and os.path.isfile(os.path.join(root, f))))
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if not (x.startswith(".") and x != ".ci") and not x.startswith("build")]
            files += [os.path.relpath(os.path.join(d, x), root) for x in names]
        return sorted(files)


def kind(root, f):
    if f.endswith(".sh"):
        return "sh"
    if f.endswith(".py"):
        return "py"
    if f.endswith(".md"):
        return "md"
    if os.path.basename(f) == "meson.build":
        return "meson"
    try:
        with open(os.path.join(root, f), "rb") as fh:
            first = fh.readline(200)
    except OSError:
        return None
    if re.match(rb"#!\s*(/usr)?/bin/(env\s+)?(ba)?sh\b", first):
        return "sh"
    if re.match(rb"#!\s*(/usr)?/bin/(env\s+)?python3?\b", first):
        return "py"
    return None


def main():
    args = sys.argv[1:]
    known = None
    if args[:1] == ["--known"]:
        known = set()
        for l in open(args[1]):
            l = l.split("#", 1)[0].split()
            if l:
                known.add(l[0])
        args = args[2:]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = args or repo_files(root)
    out, funcs, tern_exes = [], set(), set()
    for f in files:
        k = kind(root, f)
        if not k:
            continue
        text = open(os.path.join(root, f), encoding="utf-8", errors="replace").read()
        if k == "sh":
            bodies = []
            Shell(text, f, 1, out, funcs, bodies).run()
            for src, line in bodies:
                scan_python(src, f, line, out, funcs)
        elif k == "py":
            scan_python(text, f, 1, out, funcs)
        elif k == "md":
            for code, line in markdown_blocks(text):
                Shell(code, f, line, out, funcs, []).run()
        elif k == "meson":
            for m in re.finditer(r"\b(find_program|run_command)\(\s*'([^']+)'", text):
                out.append((m.group(2), f, text.count("\n", 0, m.start()) + 1))
            tern_exes.update(re.findall(r"\bexecutable\(\s*'([^']+)'", text))
    uses = sorted(set((name, "%s:%d" % (p, l)) for name, p, l in out
                      if name not in BUILTINS and name not in KEYWORDS and name not in funcs
                      and name not in tern_exes and name not in WRAPPERS))
    if known is None:
        for name, where in uses:
            print("%s\t%s" % (name, where))
        return 0
    bad = [(name, where) for name, where in uses if name not in known]
    for name, where in bad:
        print("%s\t%s" % (name, where))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""IPython magics written commented in the file, as Jupytext writes them.

``# %matplotlib inline`` in the file is ``%matplotlib inline`` for the kernel
and the notebook UI; ``# !pip install x`` is ``!pip install x``; a magic line
ending with a backslash continues on the next (commented) line.

Where this differs from Jupytext, on purpose (DESIGN §2, "only known magic
names count"):

- ``%name`` counts only for known magic names, so comments such as
  ``# %d items`` stay comments (Jupytext uncomments any ``# %word``).
- ``# !cmd`` needs the space: ``#!...`` is a shebang or a comment, never a
  shell escape (Jupytext uncomments ``#!ls``, and so would turn a shebang into
  ``!/usr/bin/env python`` everywhere but on the file's first line).
- Bare automagics (``# cd dir``, ``# ls``) and help lines (``# what?``) are
  comments; Jupytext uncomments them.

A magic that is already commented in the UI text is escaped once more in the
file (``# # %time x``), so uncommenting is the exact inverse of commenting.
Lines inside triple-quoted strings are never touched.
"""

from __future__ import annotations

import re

from sessions.format.markers import TRIPLE_DQ, TRIPLE_SQ, string_state

# Line and cell magics shipped with IPython, plus common extensions' magics.
_KNOWN_MAGIC_NAMES = """
    alias alias_magic autoawait autocall autoindent automagic bookmark cat cd clear colors
    conda config connect_info cp debug dhist dirs doctest_mode ed edit env gui hist history
    killbgscripts ldir less lf lk ll load load_ext loadpy logoff logon logstart logstate logstop
    ls lsmagic lx macro magic mamba man matplotlib micromamba mkdir more mv notebook page
    pastebin pdb pdef pdoc pfile pinfo pinfo2 pip popd pprint precision prun psearch psource
    pushd pwd pycat pylab qtconsole quickref recall rehashx reload_ext rep rerun reset
    reset_selective rm rmdir run save sc set_env store sx system tb time timeit unalias
    unload_ext uv who who_ls whos xdel xmode code_wrap
    autoreload aimport capture script bash sh html HTML javascript js latex markdown perl
    python python2 python3 pypy ruby svg writefile file sql cython memit mprun lprun
    px autopx R sessions_info
"""
KNOWN_MAGICS = frozenset(_KNOWN_MAGIC_NAMES.split())

# ``indent``, any number of ``#``/``# `` escapes, then ``%name`` or ``%%name``.
_PERCENT = re.compile(r"([^\S\n]*)(?:# ?)*%%?([A-Za-z_]\w*)(?:\s|$)")
# ``indent``, ``# `` escapes (with the space), then ``!`` and a command.
_SHELL = re.compile(r"([^\S\n]*)(?:# )*!\s*[A-Za-z.~$\\/{}]")
# ``x = %magic ...`` and ``x = !cmd``.
_ASSIGN_PERCENT = re.compile(r"([^\S\n]*)(?:# ?)*[A-Za-z_]\w*\s*=\s*%%?([A-Za-z_]\w*)(?:\s|$)")
_ASSIGN_SHELL = re.compile(r"([^\S\n]*)(?:# )*[A-Za-z_]\w*\s*=\s*![A-Za-z.~$\\/{}]")


def _magic_indent(line: str) -> int | None:
    """Length of the indentation when ``line`` is a (possibly escaped) magic."""
    for pattern in (_PERCENT, _ASSIGN_PERCENT):
        found = pattern.match(line)
        if found and found.group(2) in KNOWN_MAGICS:
            return found.end(1)
    for pattern in (_SHELL, _ASSIGN_SHELL):
        found = pattern.match(line)
        if found:
            return found.end(1)
    return None


def _continues(line: str) -> bool:
    return line.rstrip().endswith("\\")


def _unescape(line: str) -> str:
    """Remove one ``# `` (or ``#``) after the indentation, if there is one."""
    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    if body.startswith("# "):
        return indent + body[2:]
    if body.startswith("#"):
        return indent + body[1:]
    return line


def _rewrite(code: str, commenting: bool) -> str:
    """Comment (or uncomment) every magic line of ``code`` once.

    The string state is tracked on the *file* form of each line, where magic
    lines are comments, so both directions see the same strings.
    """
    lines = code.split("\n")
    state: str | None = None
    continuation = False
    for index, line in enumerate(lines):
        if state is None:
            indent = None if continuation else _magic_indent(line)
            if continuation or indent is not None:
                if not commenting:
                    lines[index] = _unescape(line)
                elif indent is None:
                    lines[index] = "# " + line
                else:
                    lines[index] = line[:indent] + "# " + line[indent:]
                continuation = _continues(line)
                continue
        continuation = False
        if TRIPLE_SQ in line or TRIPLE_DQ in line:  # nothing else opens or closes one
            state = string_state(line, state)
    return "\n".join(lines)


def uncomment_magics(code: str) -> str:
    """File form -> UI/kernel form: ``# %time x()`` -> ``%time x()``."""
    if "%" not in code and "!" not in code:
        return code
    return _rewrite(code, commenting=False)


def comment_magics(code: str) -> str:
    """UI/kernel form -> file form; the exact inverse of :func:`uncomment_magics`."""
    if "%" not in code and "!" not in code:
        return code
    return _rewrite(code, commenting=True)


def is_magic_line(line: str) -> bool:
    """Whether an uncommented (UI/kernel form) line is a magic the analysis ignores."""
    indent = _magic_indent(line)
    return indent is not None and not line[indent:].startswith("#")


def magic_line_mask(code: str) -> list[bool]:
    """For each line of kernel-form ``code``: is it a magic or a magic's continuation?

    Analysis blanks these lines out (they are not Python); lines inside
    triple-quoted strings are never magics.
    """
    lines = code.split("\n")
    mask = [False] * len(lines)
    if "%" not in code and "!" not in code:
        return mask
    state: str | None = None
    continuation = False
    for index, line in enumerate(lines):
        if state is None and (continuation or is_magic_line(line)):
            mask[index] = True
            continuation = _continues(line)
            continue
        continuation = False
        if TRIPLE_SQ in line or TRIPLE_DQ in line:  # nothing else opens or closes one
            state = string_state(line, state)
    return mask

"""Regular expressions that users give us (the `url` filter with url_match=regex, a site's
`re:` excluded pages): compiled with RE2, whose matching time grows linearly with the text,
so no pattern can make the server spin (Python's `re` backtracks: `(a+)+$` against a long
address takes seconds, and holds the interpreter lock meanwhile).

RE2 has no backreferences and no lookaround; such a pattern is refused where it is given, with
a message that says so, instead of silently never matching.
"""

from __future__ import annotations

import re
from functools import lru_cache

import re2

# What RE2 may allocate for one compiled pattern (its default); a pattern needing more is
# refused as too large rather than grown without bound.
MAX_MEMORY = 8 << 20
# RE2's time is linear in the text but grows with the compiled program too: `(.{1,100}){1,10}b`
# (9,000 steps) takes a quarter of a second on one 2,000-character address. Patterns people
# write for addresses take under 100 steps (a Unicode class such as \pL about 1,200); 2,000
# keeps the worst near 60 ms per 2,000 characters, and the list's query stops after 10 s
# whatever it meets (recordings/search.py).
MAX_PROGRAM_SIZE = 2000


class PatternError(ValueError):
    """A pattern RE2 cannot run; the message says what to change."""


def _options(ignore_case: bool) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a user's typo is not worth a line on the server's stderr
    options.max_mem = MAX_MEMORY
    options.case_sensitive = not ignore_case
    return options


def _explain(pattern: str, problem: str) -> str:
    """RE2's complaint → what the user should do about it."""
    if re.search(r"\\[1-9]|\\k<|\(\?P=", pattern):
        return (
            "the pattern uses a backreference (such as \\1), which is not supported; "
            "write out the text it should match again instead"
        )
    if "(?=" in pattern or "(?!" in pattern:
        return (
            "the pattern uses a lookahead ((?=…) or (?!…)), which is not supported; "
            "match the text itself, or use a second filter"
        )
    if "(?<=" in pattern or "(?<!" in pattern:
        return (
            "the pattern uses a lookbehind ((?<=…) or (?<!…)), which is not supported; "
            "match the text itself, or use a second filter"
        )
    if "repetition size" in problem:
        return (
            f"a repetition count in the pattern is above 1000 or its range is reversed "
            f"({problem}); counts may be at most 1000 in all (a repetition inside a "
            "repetition multiplies them)"
        )
    if "too large" in problem or "too big" in problem:
        return "the pattern is too large to run; make it shorter or use fewer repetitions"
    return f"the pattern is not a valid regular expression ({problem})"


@lru_cache(maxsize=512)
def compile_pattern(
    pattern: str, ignore_case: bool = False, max_program: int | None = MAX_PROGRAM_SIZE
) -> re2._Regexp:
    """The compiled pattern; raises PatternError naming what to change. `max_program`: the
    most steps its program may have (None: RE2's memory bound alone)."""
    try:
        compiled = re2.compile(pattern, _options(ignore_case))
    except re2.error as exc:
        problem = exc.args[0] if exc.args else ""
        if isinstance(problem, bytes):
            problem = problem.decode("utf-8", "replace")
        raise PatternError(_explain(pattern, str(problem))) from None
    if max_program is not None and compiled.programsize > max_program:
        raise PatternError(
            f"the pattern is too complex to run on every address ({compiled.programsize} "
            f"steps, at most {max_program}); use smaller counts in {{…}} and fewer "
            "repetitions inside repetitions"
        )
    return compiled


def escape(text: str) -> str:
    """`text` as a pattern that matches exactly it (RE2's own escaping)."""
    return str(re2.escape(text))


def searches(pattern: str, text: str) -> bool:
    """Whether `pattern` is found anywhere in `text`; a pattern RE2 refuses finds nothing
    (patterns are checked where they are given; this only reads them)."""
    try:
        return compile_pattern(pattern).search(text) is not None
    except PatternError:
        return False

"""The regular expressions filters accept: the subset SQLite (Python's `re`) and PostgreSQL
read alike, with bounded repetition.

    check_portable_regex("^wx[0-9a-f]{16}$")      # fine
    check_portable_regex("(?P<name>a)")           # UnportableRegex: say what to change
"""

from __future__ import annotations

MAX_REGEX_REPEAT = 255  # PostgreSQL's largest {n,m}
MAX_REGEX_COST = 10_000  # nested counted repeats past this are "too complex" for PostgreSQL
_CLASS_ESCAPES = frozenset("dswntr")
_ESCAPES = frozenset("dswDSWntr")


class UnportableRegex(ValueError):
    """A pattern Python's `re` (SQLite) accepts but PostgreSQL refuses or reads differently."""


def check_portable_regex(pattern: str) -> None:
    """Accept only the regex syntax both engines read alike: literals, `.`, `^`, `$`, `|`,
    `(...)`, `(?:...)`, `[...]` classes, `* + ? {n} {n,} {n,m}` (each maybe lazy), and the
    escapes `\\d \\s \\w \\D \\S \\W \\n \\t \\r` or a backslash before punctuation.
    Raises UnportableRegex saying what to change."""
    _RegexChecker(pattern).check()


class _RegexChecker:
    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.at = 0
        self.depth = 0

    def _peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def _fail(self, message: str) -> UnportableRegex:
        return UnportableRegex(f"{message} (at {self.at})")

    def check(self) -> None:
        cost = self._alternatives()
        if self.at < len(self.text):
            raise self._fail("unbalanced )")
        if cost > MAX_REGEX_COST:
            raise UnportableRegex("the pattern repeats too much; use smaller {n,m} counts")

    def _alternatives(self) -> int:
        cost = self._sequence()
        while self._peek() == "|":
            self.at += 1
            cost += self._sequence()
        return cost

    def _sequence(self) -> int:
        cost = 0
        while self._peek() not in ("", "|", ")"):
            atom, repeatable = self._atom()
            cost += self._repeated(atom) if repeatable else atom
            if not repeatable and self._peek() in ("*", "+", "?", "{"):
                raise self._fail("an anchor cannot repeat")
        return cost

    def _atom(self) -> tuple[int, bool]:
        char = self._peek()
        if char == "(":
            return self._group(), True
        if char == "[":
            return self._class(), True
        if char == "\\":
            self._escape(_ESCAPES)
            return 1, True
        if char in "*+?{":
            raise self._fail(f"nothing to repeat before {char}; escape it as \\{char}")
        if char in "}]":
            raise self._fail(f"escape {char} as \\{char}")
        self.at += 1
        return 1, char not in "^$"

    def _group(self) -> int:
        if self.text.startswith("(?:", self.at):
            self.at += 3
        elif self.text.startswith("(?", self.at):
            raise self._fail("only (...) and (?:...) groups are supported")
        else:
            self.at += 1
        self.depth += 1
        if self.depth > 32:
            raise self._fail("groups nest too deeply")
        cost = self._alternatives()
        if self._peek() != ")":
            raise self._fail("unbalanced (")
        self.at += 1
        self.depth -= 1
        return max(cost, 1)

    def _class(self) -> int:
        self.at += 1
        if self._peek() == "^":
            self.at += 1
        items = 0
        while (char := self._peek()) != "]" or not items:
            if char in ("", "[", "]"):
                raise self._fail("unterminated [...], or an unescaped [ or ] inside it")
            if char == "\\":
                self._escape(_CLASS_ESCAPES)
            else:
                self.at += 1
            items += 1
        self.at += 1
        return 1

    def _escape(self, letters: frozenset[str]) -> None:
        char = self.text[self.at + 1 : self.at + 2]
        portable = char in letters or (char.isascii() and char.isprintable() and not char.isalnum())
        if not char or not portable:
            raise self._fail(f"\\{char} is not supported; escape only punctuation")
        self.at += 2

    def _repeated(self, cost: int) -> int:
        char = self._peek()
        if char in ("*", "+", "?"):
            self.at += 1
            factor = 1
        elif char == "{":
            factor = self._count()
        else:
            return cost
        if self._peek() == "?":
            self.at += 1
        if self._peek() in ("*", "+", "?", "{"):
            raise self._fail("a repeat cannot follow a repeat")
        return cost * factor

    def _count(self) -> int:
        end = self.text.find("}", self.at)
        low, comma, high = self.text[self.at + 1 : end].partition(",")
        numbers = [low, high] if comma and high else [low]
        valid = end > 0 and all(n.isascii() and n.isdigit() and len(n) <= 3 for n in numbers)
        if not valid or not int(numbers[0]) <= int(numbers[-1]) <= MAX_REGEX_REPEAT:
            raise self._fail(f"write {{n}}, {{n,}} or {{n,m}} with n <= m <= {MAX_REGEX_REPEAT}")
        self.at = end + 1
        return max(int(numbers[-1]), 1)

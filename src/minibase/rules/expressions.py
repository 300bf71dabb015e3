"""Access-rule expressions: text -> a small typed AST, checked once when a collection is saved.

    doc._owner == auth.id || "editor" in auth.roles

Grammar (`!` binds tighter than `&&`, which binds tighter than `||`; comparisons don't chain):

    or         := and ("||" and)*
    and        := not ("&&" not)*
    not        := "!" not | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") operand)?
    operand    := literal | path | "[" (literal ("," literal)*)? "]" | "(" or ")"
    path       := ("auth" | "doc" | "body") ("." (identifier | digits))+

Rules are parsed, never eval'ed. The parser also rejects rules that can't mean what their author
intended (two record fields compared, `==` against a list, `auth.email`), so mistakes surface
when the rule is saved instead of as silently empty lists later.
`minibase.rules.binding.bind` turns a parsed `Rule` into a `Condition` for one request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from minibase.rules.conditions import FieldPath, Scalar

MAX_RULE_LENGTH = 4096
MAX_NESTING = 64
AUTH_FIELDS = ("id", "roles", "platform", "appid")

Root: TypeAlias = Literal["auth", "doc", "body"]
ComparisonOp: TypeAlias = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]


class RuleSyntaxError(ValueError):
    """A rule that can't be used; `position` is the 0-based offset the message points at."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True, slots=True)
class LiteralValue:
    value: Scalar


@dataclass(frozen=True, slots=True)
class LiteralList:
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Path:
    root: Root
    fields: FieldPath  # already split, so binding hands it to Compare/In as is
    position: int = field(default=0, compare=False)  # where the rule names it

    def __str__(self) -> str:
        return ".".join((self.root, *self.fields))


@dataclass(frozen=True, slots=True)
class Comparison:
    op: ComparisonOp
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Negation:
    item: Expression


@dataclass(frozen=True, slots=True)
class Conjunction:
    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Disjunction:
    items: tuple[Expression, ...]


Operand: TypeAlias = LiteralValue | LiteralList | Path
# A bare Path or LiteralValue(True | False) is a condition too: `doc.published`, `true`.
Expression: TypeAlias = Comparison | Negation | Conjunction | Disjunction | Path | LiteralValue
# What the parser holds before it knows whether a value is compared or stands alone.
_Parsed: TypeAlias = Operand | Expression


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed rule; bind it to each request with `minibase.rules.binding.bind`."""

    source: str
    expression: Expression

    def record_paths(self) -> Iterator[Path]:
        """The `doc.*` and `body.*` paths the rule reads, in the order it names them."""
        return _record_paths(self.expression)


def _record_paths(item: Expression | Operand) -> Iterator[Path]:
    if isinstance(item, Path):
        if item.root != "auth":
            yield item
    elif isinstance(item, Comparison):
        yield from _record_paths(item.left)
        yield from _record_paths(item.right)
    elif isinstance(item, Negation):
        yield from _record_paths(item.item)
    elif isinstance(item, Conjunction | Disjunction):
        for part in item.items:
            yield from _record_paths(part)


def parse_rule(text: str, *, allow_body: bool = True) -> Rule:
    """Parse a rule; pass `allow_body=False` for actions without a request body (list, read,
    delete), so that `body.` is reported when the rule is saved."""
    if len(text) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(
            f"rule is too long ({len(text)} characters; the limit is {MAX_RULE_LENGTH})",
            MAX_RULE_LENGTH,
        )
    return Rule(text, _Parser(_tokenize(text), allow_body=allow_body).parse())


# --- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["value", "name", "op", "end"]
    text: str  # the source text; for a name, the whole dotted path
    position: int
    value: Scalar = None  # for kind "value": the decoded string, number, boolean or null


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number> -?[0-9]+(?:\.[0-9]+)? )
    | (?P<string> '(?:[^'\\]|\\.)*' | "(?:[^"\\]|\\.)*" )
    | (?P<name> [A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]*)* )
    | (?P<op> ==|!=|<=|>=|&&|\|\||[<>!()\[\],] )
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}
_KEYWORDS: dict[str, Scalar] = {"true": True, "false": False, "null": None}
_MISTAKES = {"=": "use '=='", "&": "use '&&'", "|": "use '||'", "-": "a digit must follow '-'"}


def _error(subject: str, position: int, detail: str = "") -> RuleSyntaxError:
    """Every message says where: "<subject> at <position>[: <detail>]"."""
    return RuleSyntaxError(f"{subject} at {position}" + (f": {detail}" if detail else ""), position)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while match := _TOKEN.match(text, position):
        kind = match.lastgroup
        assert kind is not None  # one alternative always matched
        source, start, position = match.group(kind), match.start(kind), match.end()
        if kind == "number":
            tokens.append(_Token("value", source, start, _number(source, start)))
        elif kind == "string":
            tokens.append(_Token("value", source, start, _unescape(source, start)))
        elif kind == "name":
            tokens.append(_name(source, start))
        else:
            tokens.append(_Token("op", source, start))
    rest = text[position:].lstrip()
    if not rest:
        return [*tokens, _Token("end", "", len(text))]
    position = len(text) - len(rest)
    if rest[0] in "'\"":
        raise _error("unterminated string starting", position)
    raise _error(f"unexpected character {rest[0]!r}", position, _MISTAKES.get(rest[0], ""))


def _number(source: str, start: int) -> int | float:
    value = float(source) if "." in source else int(source)
    # Integers beyond 64 bits can't be compared in SQLite or PostgreSQL.
    if (isinstance(value, int) and not -(2**63) <= value < 2**63) or not math.isfinite(value):
        raise _error(f"number {source[:24]} is out of range", start)
    return value


def _unescape(source: str, start: int) -> str:
    def replace(escape: re.Match[str]) -> str:
        code, position = escape.group(1), start + 1 + escape.start()
        if code in _ESCAPES:
            return _ESCAPES[code]
        if len(code) == 5 and not 0xD800 <= int(code[1:], 16) <= 0xDFFF:
            return chr(int(code[1:], 16))
        if len(code) == 5:  # a lone surrogate can't be stored as UTF-8
            raise _error(f"'\\{code}' is a surrogate, not a character,", position)
        if code == "u":
            raise _error("expected 4 hex digits after '\\u'", position)
        raise _error(f"unknown escape '\\{code}'", position, r"""use \\ \' \" \n \t or \uXXXX""")

    return _ESCAPE.sub(replace, source[1:-1])


def _name(source: str, start: int) -> _Token:
    """A name and its `.segment`s: identifiers, or digits indexing an array."""
    if source in _KEYWORDS:
        return _Token("value", source, start, _KEYWORDS[source])
    position = start + source.index(".") if "." in source else start
    for segment in source.split(".")[1:]:
        if not segment:
            raise _error("expected a field name after '.'", position)
        if segment[0].isdigit() and not segment.isdigit():
            raise _error(f"field name '{segment}' starts with a digit", position + 1)
        position += len(segment) + 1
    return _Token("name", source, start)


def _shown(token: _Token) -> str:
    if token.kind == "end":
        return "found the end of the rule"
    return "found " + repr(token.text if len(token.text) <= 24 else token.text[:21] + "...")


# --- grammar ----------------------------------------------------------------------------------

_COMPARISON_OPS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_HINTS = {"and": "use '&&'", "or": "use '||'", "not": "use '!'"}
_ROLES = Path("auth", ("roles",))


class _Parser:
    """Recursive descent over the grammar above; one instance parses one rule."""

    def __init__(self, tokens: list[_Token], *, allow_body: bool) -> None:
        self._tokens = tokens
        self._index = 0
        self._allow_body = allow_body
        self._depth = 0

    @property
    def _token(self) -> _Token:
        return self._tokens[self._index]

    def parse(self) -> Expression:
        start = self._token.position
        expression = _as_condition(self._or(), start)
        token = self._token
        if token.kind == "end":
            return expression
        if self._comparison_op() is not None:
            raise _error("comparisons can't be chained", token.position, "join them with '&&'")
        if token.text in _HINTS and token.kind == "name":
            raise _error(f"unknown name '{token.text}'", token.position, _HINTS[token.text])
        raise _error("expected '&&', '||' or the end of the rule", token.position, _shown(token))

    def _advance(self) -> _Token:
        token = self._token
        self._index = min(self._index + 1, len(self._tokens) - 1)
        return token

    def _accept(self, text: str) -> bool:
        """Step over the operator `text` if it comes next."""
        if self._token.kind == "op" and self._token.text == text:
            self._advance()
            return True
        return False

    def _expect(self, text: str) -> None:
        if not self._accept(text):
            raise _error(f"expected '{text}'", self._token.position, _shown(self._token))

    def _nested(self, parse: Callable[[], _Parsed]) -> _Parsed:
        """Run `parse` one level deeper; the limit keeps hostile rules off Python's stack."""
        if self._depth >= MAX_NESTING:
            raise _error(
                "rule is nested too deeply", self._token.position, f"the limit is {MAX_NESTING}"
            )
        self._depth += 1
        result = parse()
        self._depth -= 1
        return result

    def _or(self) -> _Parsed:
        return self._joined("||", self._and, Disjunction)

    def _and(self) -> _Parsed:
        return self._joined("&&", self._not, Conjunction)

    def _joined(
        self, op: str, parse: Callable[[], _Parsed], node: type[Conjunction | Disjunction]
    ) -> _Parsed:
        """`item (op item)*`. A lone item may still be a value: the `1` of `doc.a == (1)`."""
        start = self._token.position
        first = parse()
        if not (self._token.kind == "op" and self._token.text == op):
            return first
        items = [_as_condition(first, start)]
        while self._accept(op):
            start = self._token.position
            items.append(_as_condition(parse(), start))
        return node(tuple(items))

    def _not(self) -> _Parsed:
        if self._accept("!"):
            start = self._token.position
            return Negation(_as_condition(self._nested(self._not), start))
        return self._comparison()

    def _comparison(self) -> _Parsed:
        start = self._token.position
        left = self._operand()
        op = self._comparison_op()
        if op is None:
            return left
        op_position = self._advance().position
        if op == "not in":
            self._advance()
        right_start = self._token.position
        right = self._operand()
        comparison = Comparison(op, _as_operand(left, start), _as_operand(right, right_start))
        _check_comparison(comparison, op_position)
        return comparison

    def _comparison_op(self) -> ComparisonOp | None:
        token = self._token
        if token.kind == "op" and token.text in _COMPARISON_OPS:
            return token.text  # type: ignore[return-value]
        if token.kind == "name" and token.text == "in":
            return "in"
        if token.kind == "name" and token.text == "not":
            follower = self._tokens[self._index + 1]
            if follower.kind == "name" and follower.text == "in":
                return "not in"
            raise _error("expected 'in' after 'not'", token.position)
        return None

    def _operand(self) -> _Parsed:
        token = self._token
        if token.kind == "value":
            self._advance()
            return LiteralValue(token.value)
        if token.kind == "name":
            self._advance()
            return self._path(token)
        if self._accept("["):
            return self._list()
        if self._accept("("):
            inner = self._nested(self._or)
            self._expect(")")
            return inner
        raise _error("expected a value", token.position, _shown(token))

    def _path(self, token: _Token) -> Path:
        root, *fields = token.text.split(".")
        position = token.position
        if root not in ("auth", "doc", "body"):
            hint = _HINTS.get(root, "use auth., doc. or body.")
            raise _error(f"unknown name '{root}'", position, hint)
        if not fields:
            raise _error(f"'{root}' needs a field", position, f"e.g. {root}.id")
        if root == "body" and not self._allow_body:
            detail = "list, read and delete have no request body"
            raise _error(f"{token.text} is not available", position, detail)
        if root == "auth":
            _check_auth_fields(fields, position)
        return Path(root, tuple(fields), position)  # type: ignore[arg-type]

    def _list(self) -> LiteralList:
        values: list[Scalar] = []
        if not self._accept("]"):
            values.append(self._list_item())
            while self._accept(","):
                values.append(self._list_item())
            self._expect("]")
        return LiteralList(tuple(values))

    def _list_item(self) -> Scalar:
        token = self._token
        if token.kind != "value":
            detail = f"a list holds only literal values; {_shown(token)}"
            raise _error("expected a string, number, true, false or null", token.position, detail)
        self._advance()
        return token.value


# --- static checks ----------------------------------------------------------------------------


def _check_auth_fields(fields: list[str], position: int) -> None:
    if fields[0] not in AUTH_FIELDS:
        known = ", ".join(f"auth.{name}" for name in AUTH_FIELDS)
        raise _error(f"auth has no field '{fields[0]}'", position, f"use {known}")
    if len(fields) > 1:
        raise _error(f"auth.{fields[0]} has no field '{fields[1]}'", position)


def _as_operand(item: _Parsed, position: int) -> Operand:
    if isinstance(item, LiteralValue | LiteralList | Path):
        return item
    raise _error("a condition can't be compared", position, "compare a field or a value")


def _as_condition(item: _Parsed, position: int) -> Expression:
    """An operand standing alone: only true, false, doc.* and body.* paths mean something."""
    if isinstance(item, Path) and item.root == "auth":
        detail = "compare it, e.g. auth.id != null or 'editor' in auth.roles"
        raise _error(f"{item} alone is not a condition", position, detail)
    if isinstance(item, LiteralValue) and not isinstance(item.value, bool):
        raise _error(f"{_kind_of(item.value)} alone is not a condition", position, "compare it")
    if isinstance(item, LiteralList):
        raise _error("a list alone is not a condition", position, "use 'in'")
    return item


def _check_comparison(comparison: Comparison, position: int) -> None:
    """Reject comparisons that can never be what the author meant."""
    op, left, right = comparison.op, comparison.left, comparison.right
    if isinstance(left, Path) and isinstance(right, Path) and left.root == right.root == "doc":
        detail = "compare a record field with a value, not with another record field"
        raise _error(f"{left} {op} {right}", position, detail)
    if op in ("in", "not in"):
        _check_membership(op, left, right, position)
        return
    for side in (left, right):
        if side == _ROLES:
            raise _error("auth.roles is a list", position, "use 'editor' in auth.roles")
        if isinstance(side, LiteralList):
            raise _error(f"'{op}' can't compare with a list", position, "use 'in'")
        if op in ("==", "!=") or not isinstance(side, LiteralValue):
            continue
        if (kind := _kind_of(side.value)) not in ("a number", "a string"):
            raise _error(f"'{op}' orders numbers or strings, not {kind},", position)


def _check_membership(op: str, left: Operand, right: Operand, position: int) -> None:
    if isinstance(left, LiteralList) or left == _ROLES:
        raise _error(f"the left side of '{op}' must be one value, not a list,", position)
    if isinstance(right, LiteralValue):
        raise _error(f"'{op}' needs a list or a field on its right", position, "e.g. ['a', 'b']")
    if isinstance(right, Path) and right.root == "auth" and right != _ROLES:
        raise _error(f"{right} is one value, not a list,", position, "use '=='")


def _kind_of(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a string" if isinstance(value, str) else "a number"

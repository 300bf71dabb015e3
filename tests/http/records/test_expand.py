"""Relations and expand: `expand=author,comments_via_post.author` adds the referenced records
(and those pointing back) under `_expand`, each through its own collection's rules."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from minibase.app import create_app
from minibase.services import Services
from minibase.store.database import Connection, Database, Row
from minibase.testing.plugin import Actor, MakeUser

from .conftest import (
    ANONYMOUS,
    assert_error,
    list_page,
    make_collection,
    records_url,
    walk_pages,
)

AUTHORS = {"name": {"type": "string"}, "shown": {"type": "boolean"}}
POSTS = {
    "title": {"type": "string"},
    "author": {"type": "reference", "collection": "authors"},
    "editors": {"type": "array", "items": {"type": "reference", "collection": "authors"}},
}
COMMENTS = {
    "text": {"type": "string"},
    "post": {"type": "reference", "collection": "posts"},
    "author": {"type": "reference", "collection": "authors"},
}


async def _blog(client: httpx.AsyncClient, admin: Actor, **rules: dict[str, Any]) -> None:
    """authors <- posts (author, editors) <- comments (post, author), public unless told."""
    await make_collection(client, admin, "authors", AUTHORS, rules=rules.get("authors"))
    await make_collection(client, admin, "posts", POSTS, rules=rules.get("posts"))
    await make_collection(client, admin, "comments", COMMENTS, rules=rules.get("comments"))


async def _bulk(
    client: httpx.AsyncClient, headers: dict[str, str], collection: str, *bodies: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await client.post(
        records_url(collection, "/bulk-create"), headers=headers, json={"records": list(bodies)}
    )
    assert response.status_code == 201, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _get(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, **params: str
) -> dict[str, Any]:
    response = await client.get(url, headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _with(record: dict[str, Any], **expanded: Any) -> dict[str, Any]:
    return {**record, "_expand": expanded}


async def test_a_post_read_or_listed_with_expand_author_carries_its_author(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await _blog(client, admin)
    (lu,) = await _bulk(client, admin.headers, "authors", {"_id": "lu", "name": "Lu Xun"})
    post, lonely = await _bulk(
        client, admin.headers, "posts", {"_id": "p1", "author": "lu"}, {"_id": "p2"}
    )

    read = await _get(client, ANONYMOUS, records_url("posts", "/p1"), expand="author")
    listed = await list_page(client, ANONYMOUS, "posts", expand="author")
    plain = await _get(client, ANONYMOUS, records_url("posts", "/p1"))

    assert read == _with(post, author=lu)
    assert listed["items"] == [_with(post, author=lu), lonely]  # nothing to show: no _expand
    assert plain == post


async def test_comments_via_post_author_expands_two_levels_deep_in_id_order(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await _blog(client, admin)
    ann, bo = await _bulk(
        client, admin.headers, "authors", {"_id": "ann", "name": "Ann"}, {"_id": "bo"}
    )
    post, other = await _bulk(client, admin.headers, "posts", {"_id": "p1"}, {"_id": "p2"})
    c2, c1, c3 = await _bulk(
        client,
        admin.headers,
        "comments",
        {"_id": "c2", "post": "p1", "author": "ann", "text": "second"},
        {"_id": "c1", "post": "p1", "author": "bo", "text": "first"},
        {"_id": "c3", "post": "p2", "text": "no author"},
    )

    read = await _get(
        client, ANONYMOUS, records_url("posts", "/p1"), expand="comments_via_post.author"
    )
    listed = await list_page(
        client, ANONYMOUS, "posts", expand="comments_via_post.author,comments_via_post"
    )

    thread = [_with(c1, author=bo), _with(c2, author=ann)]
    assert read == _with(post, comments_via_post=thread)
    assert listed["items"] == [
        _with(post, comments_via_post=thread),
        _with(other, comments_via_post=[c3]),
    ]


async def test_a_hidden_record_is_absent_while_visible_ones_are_present_and_admins_see_all(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await _blog(
        client,
        admin,
        authors={"preset": "public_read_admin_write", "read": "doc.shown"},
        comments={"preset": "owner_only"},
    )
    secrets = {"post": {"type": "reference", "collection": "posts"}}
    await make_collection(client, admin, "secrets", secrets, rules={"preset": "admin_only"})
    ann, bo = await _bulk(
        client,
        admin.headers,
        "authors",
        {"_id": "ann", "shown": True},
        {"_id": "bo", "shown": False},
    )
    shown, hidden = await _bulk(
        client,
        admin.headers,
        "posts",
        {"_id": "p1", "author": "ann", "editors": ["bo", "ann"]},
        {"_id": "p2", "author": "bo", "editors": ["bo"]},
    )
    user, other = await make_user(), await make_user()
    mine = await _bulk(client, user.headers, "comments", {"_id": "c1", "post": "p1"})
    theirs = await _bulk(client, other.headers, "comments", {"_id": "c2", "post": "p1"})
    await _bulk(client, admin.headers, "secrets", {"post": "p1"})  # admins only: never shown
    expand = "author,editors,comments_via_post,secrets_via_post"

    as_user = await list_page(client, user.headers, "posts", expand=expand)
    as_admin = await list_page(client, admin.headers, "posts", expand=expand)

    assert as_user["items"] == [
        _with(shown, author=ann, editors=[ann], comments_via_post=mine),
        hidden,
    ]
    (secret,) = (await list_page(client, admin.headers, "secrets"))["items"]
    assert as_admin["items"] == [
        _with(
            shown,
            author=ann,
            editors=[bo, ann],
            comments_via_post=[*mine, *theirs],
            secrets_via_post=[secret],
        ),
        _with(hidden, author=bo, editors=[bo]),
    ]


async def test_references_in_an_array_expand_to_a_list_in_the_array_order(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await _blog(client, admin)
    line = {
        "type": "object",
        "fields": {"sku": {"type": "reference", "collection": "skus"}, "qty": {"type": "integer"}},
    }
    await make_collection(client, admin, "skus", {"name": {"type": "string"}})
    await make_collection(client, admin, "orders", {"items": {"type": "array", "items": line}})
    ann, bo = await _bulk(client, admin.headers, "authors", {"_id": "ann"}, {"_id": "bo"})
    tea, cup = await _bulk(client, admin.headers, "skus", {"_id": "tea"}, {"_id": "cup"})
    (post,) = await _bulk(
        client, admin.headers, "posts", {"_id": "p1", "editors": ["bo", "ann", "bo"]}
    )
    (order,) = await _bulk(
        client,
        admin.headers,
        "orders",
        {"_id": "o1", "items": [{"sku": "tea", "qty": 1}, {"sku": "cup", "qty": 2}]},
    )

    editors = await _get(client, ANONYMOUS, records_url("posts", "/p1"), expand="editors")
    items = await _get(client, ANONYMOUS, records_url("orders", "/o1"), expand="items.sku")
    # and back: the posts whose editors name ann, the orders whose items name the cup
    edited = await _get(
        client, ANONYMOUS, records_url("authors", "/ann"), expand="posts_via_editors"
    )
    ordered = await _get(
        client, ANONYMOUS, records_url("skus", "/cup"), expand="orders_via_items.sku"
    )

    assert editors == _with(post, editors=[bo, ann, bo])
    assert items == _with(order, **{"items.sku": [tea, cup]})
    assert edited == _with(ann, posts_via_editors=[post])  # once, though named twice by p1
    assert ordered == _with(cup, **{"orders_via_items.sku": [order]})


async def test_a_back_relation_brings_at_most_expand_max_back_records_each_in_id_order(
    client: httpx.AsyncClient,
    admin: Actor,
    client_with: Callable[..., httpx.AsyncClient],
) -> None:
    await _blog(client, admin)
    p1, p2 = await _bulk(client, admin.headers, "posts", {"_id": "p1"}, {"_id": "p2"})
    comments = await _bulk(
        client,
        admin.headers,
        "comments",
        *({"_id": name, "post": "p1"} for name in ("c5", "c3", "C9", "c1")),
        {"_id": "c7", "post": "p2"},
    )
    by_id = {comment["_id"]: comment for comment in comments}
    small = client_with(expand_max_back=2)

    page = await list_page(small, ANONYMOUS, "posts", expand="comments_via_post")
    read = await _get(small, ANONYMOUS, records_url("posts", "/p1"), expand="comments_via_post")

    first_two = [by_id["C9"], by_id["c1"]]  # byte order on both engines: capitals first
    assert page["items"] == [
        _with(p1, comments_via_post=first_two),
        _with(p2, comments_via_post=[by_id["c7"]]),
    ]
    assert read == _with(p1, comments_via_post=first_two)


async def test_an_expand_bringing_more_than_expand_max_records_is_refused(
    client: httpx.AsyncClient,
    admin: Actor,
    client_with: Callable[..., httpx.AsyncClient],
) -> None:
    await _blog(client, admin)
    await _bulk(client, admin.headers, "authors", *({"_id": f"a{n}"} for n in range(3)))
    await _bulk(client, admin.headers, "posts", *({"author": f"a{n}"} for n in range(3)))
    small = client_with(expand_max_records=2)

    refused = await small.get(records_url("posts"), params={"expand": "author"})
    fits = await list_page(small, ANONYMOUS, "posts", expand="author", limit="2")

    body = assert_error(refused, 400, "records.expand_too_large")
    assert body["details"] == {"limit": "expand_max_records", "max": 2}
    assert [item["_expand"]["author"]["_id"] for item in fits["items"]] == ["a0", "a1"]


async def test_expand_takes_at_most_10_paths_each_at_most_6_steps_deep(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await make_collection(
        client, admin, "nodes", {"up": {"type": "reference", "collection": "nodes"}}
    )
    await _bulk(
        client,
        admin.headers,
        "nodes",
        *({"_id": f"n{n}", **({"up": f"n{n - 1}"} if n else {})} for n in range(8)),
    )
    url = records_url("nodes", "/n7")

    six = await _get(client, ANONYMOUS, url, expand=".".join(["up"] * 6))
    seven = await client.get(url, params={"expand": ".".join(["up"] * 7)})
    ten = await client.get(url, params={"expand": ",".join(["up"] * 10)})
    eleven = await client.get(url, params={"expand": ",".join(["up"] * 11)})
    listed = await client.get(records_url("nodes"), params={"expand": ",".join(["up"] * 11)})

    chain, node = [], six
    while "_expand" in node:
        node = node["_expand"]["up"]
        chain.append(node["_id"])
    assert chain == ["n6", "n5", "n4", "n3", "n2", "n1"]
    assert "steps deep" in assert_error(seven, 400, "records.invalid_expand")["message"]
    assert ten.status_code == 200, ten.text
    assert ten.json()["_expand"]["up"]["_id"] == "n6"
    for response in (eleven, listed):
        assert (
            "at most 10 paths" in assert_error(response, 400, "records.invalid_expand")["message"]
        )


async def test_a_step_that_is_no_reference_or_back_relation_is_refused_with_the_closest_name(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await _blog(client, admin)
    await _bulk(client, admin.headers, "posts", {"_id": "p1"})
    cases = {  # expand: (the step refused, the path meant, or None)
        "autor": ("autor", "author"),
        "comments_via_pots": ("comments_via_pots", "comments_via_post"),
        "comments_via_post.autor": ("autor", "comments_via_post.author"),
        "author.posts_via_autor.editors": ("posts_via_autor", "author.posts_via_author.editors"),
        "title": ("title", None),
        "nothing_via_post": ("nothing_via_post", "comments_via_post"),
        "x": ("x", None),
    }

    for expand, (step, meant) in cases.items():
        for url in (records_url("posts"), records_url("posts", "/p1")):
            response = await client.get(url, params={"expand": expand})
            body = assert_error(response, 400, "records.invalid_expand")
            assert body["details"] == {"expand": expand, "step": step, "did_you_mean": meant}
            if meant is not None:
                assert f"did you mean {meant!r}?" in body["message"]
    title = await client.get(records_url("posts"), params={"expand": "title"})
    assert "posts.title is a string field, not a reference" in title.json()["message"]
    unlike = await client.get(records_url("posts"), params={"expand": "x"})
    assert unlike.json()["message"].endswith("it has author, editors, comments_via_post")
    for malformed in ("author,", ",author", "author..editors", "author editors", "_id"):
        response = await client.get(records_url("posts"), params={"expand": malformed})
        assert_error(response, 400, "records.invalid_expand")


async def test_every_page_of_a_list_expands_its_own_records(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await _blog(client, admin)
    authors = await _bulk(client, admin.headers, "authors", *({"_id": f"a{n}"} for n in range(5)))
    await _bulk(
        client, admin.headers, "posts", *({"title": f"t{n}", "author": f"a{n}"} for n in range(5))
    )

    plain = await walk_pages(client, ANONYMOUS, "posts", limit="2", sort="-title")
    expanded = await walk_pages(
        client, ANONYMOUS, "posts", limit="2", sort="-title", expand="author", count="true"
    )

    by_id = {author["_id"]: author for author in authors}
    assert expanded == [_with(post, author=by_id[post["author"]]) for post in plain]
    assert [post["title"] for post in expanded] == ["t4", "t3", "t2", "t1", "t0"]


async def test_a_projection_keeps_the_expand_of_fields_it_leaves_out(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await _blog(client, admin)
    (lu,) = await _bulk(client, admin.headers, "authors", {"_id": "lu", "name": "Lu Xun"})
    await _bulk(client, admin.headers, "posts", {"_id": "p1", "title": "Medicine", "author": "lu"})
    params = {"fields": "title", "expand": "author"}

    read = await _get(client, ANONYMOUS, records_url("posts", "/p1"), **params)
    listed = await list_page(client, ANONYMOUS, "posts", **params)

    projected = {"_id": "p1", "title": "Medicine", "_expand": {"author": lu}}
    assert read == projected
    assert listed["items"] == [projected]


async def test_a_deleted_record_is_absent_from_the_expand(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    await _blog(client, admin)
    await _bulk(client, admin.headers, "authors", {"_id": "ann"}, {"_id": "bo"})
    (post,) = await _bulk(
        client, admin.headers, "posts", {"_id": "p1", "author": "ann", "editors": ["ann", "bo"]}
    )
    _, c2 = await _bulk(
        client, admin.headers, "comments", {"_id": "c1", "post": "p1"}, {"_id": "c2", "post": "p1"}
    )
    for collection, record_id in (("authors", "ann"), ("comments", "c1")):
        url = records_url(collection, f"/{record_id}")
        assert (await client.delete(url, headers=admin.headers)).status_code == 204

    read = await _get(
        client, ANONYMOUS, records_url("posts", "/p1"), expand="author,editors,comments_via_post"
    )

    (bo,) = (await list_page(client, ANONYMOUS, "authors"))["items"]
    assert read == _with(post, editors=[bo], comments_via_post=[c2])


class _CountedConnection:
    """A connection that notes the statements it runs on records (tables "c_...")."""

    def __init__(self, conn: Connection, statements: list[str]) -> None:
        self._conn = conn
        self._statements = statements
        self.dialect = conn.dialect

    def _note(self, sql: str) -> None:
        if '"c_' in sql:
            self._statements.append(sql)

    async def fetch_one(self, sql: str, *params: Any) -> Row | None:
        self._note(sql)
        return await self._conn.fetch_one(sql, *params)

    async def fetch_all(self, sql: str, *params: Any) -> list[Row]:
        self._note(sql)
        return await self._conn.fetch_all(sql, *params)

    async def fetch_value(self, sql: str, *params: Any) -> Any:
        self._note(sql)
        return await self._conn.fetch_value(sql, *params)


class _CountedDatabase(_CountedConnection):
    """`services.db` whose record statements are noted, its readers' too."""

    def __init__(self, db: Database, statements: list[str]) -> None:
        super().__init__(db, statements)  # type: ignore[arg-type]  # reads alike
        self._db = db

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[_CountedConnection]:
        async with self._db.reader() as conn:
            yield _CountedConnection(conn, self._statements)


async def test_expand_reads_one_statement_per_step_however_many_records_the_page_holds(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    await _blog(client, admin)
    await _bulk(client, admin.headers, "authors", *({"_id": f"a{n}"} for n in range(20)))
    await _bulk(
        client, admin.headers, "posts", *({"_id": f"p{n:02}", "author": f"a{n}"} for n in range(20))
    )
    await _bulk(
        client,
        admin.headers,
        "comments",
        *({"post": f"p{n % 20:02}", "author": f"a{n % 7}"} for n in range(60)),
    )
    statements: list[str] = []
    counted = dataclasses.replace(services, db=_CountedDatabase(services.db, statements))
    app = create_app(services.settings, services=counted)
    transport = httpx.ASGITransport(app=app)

    async def statements_for(**params: str) -> int:
        statements.clear()
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            page = await list_page(http, ANONYMOUS, "posts", **params)
        assert all("_expand" in item for item in page["items"])
        return len(statements)

    assert await statements_for(limit="2", expand="author") == 2  # the page, the authors
    assert await statements_for(limit="20", expand="author") == 2
    deep = "author,comments_via_post.author,editors"  # no post has editors: nothing to read
    assert await statements_for(limit="2", expand=deep) == 4
    assert await statements_for(limit="20", expand=deep) == 4

"""Cloud functions, record hooks, scheduled functions and job handlers, written by users in the
functions folder (`functions_dir`, default ./functions):

    from minibase.functions import (
        ApiError, after, before, function, job, paid, price, push, schedule,
    )

    @function(auth="user", schema={"title": {"type": "string", "required": True}})
    async def publish(ctx, input):
        post = await ctx.records.create("posts", {"title": input["title"]})
        await ctx.jobs.enqueue("notify_followers", {"post": post["_id"]})
        return {"id": post["_id"]}

    @before("posts", "create", "update")
    async def no_shouting(ctx, event):
        if event.record["title"].isupper():
            raise ApiError("posts.shouting", 400, "please do not shout")

    @after("orders", "update")
    async def ship(ctx, event): ...

    @schedule("0 3 * * *", tz="Asia/Shanghai")
    async def nightly(ctx): ...

    @job("notify_followers", max_attempts=5)
    async def notify(ctx, payload): ...

    @price()
    async def catalogue(ctx, product, input):
        return {"amount": 1200, "description": "A year of Pro"}

    @paid()
    async def deliver(ctx, order): ...  # once per paid order (see docs/payments.md)

    @push("text", reply=True)
    async def to_customer_service(ctx, message):  # WeChat message push (see docs/push.md)
        return {"MsgType": "transfer_customer_service"}
"""

from minibase.errors import ApiError
from minibase.functions.context import FunctionContext
from minibase.functions.specs import after, before, function, job, paid, price, push, schedule
from minibase.hooks import RecordEvent

__all__ = [
    "ApiError",
    "FunctionContext",
    "RecordEvent",
    "after",
    "before",
    "function",
    "job",
    "paid",
    "price",
    "push",
    "schedule",
]

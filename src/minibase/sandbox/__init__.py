"""A local stand-in for the platforms' servers (WeChat, QQ, Douyin, Baidu, Alipay).

It speaks their real protocols over HTTP (same paths, fields, error codes, signatures and
encryption), so development and tests run offline; only base URLs and keys differ from
production. `create_sandbox()` builds one; `/control/*` (or the Sandbox's methods) registers
apps, logs fake people in and breaks platforms on purpose.
"""

from minibase.sandbox.app import Sandbox, create_sandbox, serve_sandbox
from minibase.sandbox.errors import SandboxError

__all__ = ["Sandbox", "SandboxError", "create_sandbox", "serve_sandbox"]

"""The admin console: static assets shipped inside the package (no CDN, works offline), served
at /_/ with a strict content security policy. Everything it does goes through the admin API
with the signed-in admin's token, like any other client: it has no private back door."""

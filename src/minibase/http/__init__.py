"""HTTP: request parsing, responses, middleware, routes and the OpenAPI document."""

"""One module per resource: parse the request, call one feature function, render the result."""

"""What an operator watches: Prometheus metrics of requests, the database, jobs, the message
outbox, platform errors and realtime sockets; readiness for load balancers. See
docs/operations.md."""

-- The W3C trace context of the request that made the change, kept with its event so that the
-- relay, whenever and wherever it publishes the row (after a restart, on another replica),
-- continues that request's trace. NULL when the request was not traced.
ALTER TABLE outbox ADD COLUMN traceparent TEXT;
ALTER TABLE outbox ADD COLUMN tracestate TEXT;

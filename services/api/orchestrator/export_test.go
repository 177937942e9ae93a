package orchestrator

// RetryPublish hands id to the sweeper as a failed publish does.
func (o *Orchestrator) RetryPublish(id string) { o.retryPublish(id) }

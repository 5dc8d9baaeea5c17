"""The batch machinery every batch command shares: the job (find inputs, resume, error rows),
batches, progress, several processes, and whether this run may write its output."""

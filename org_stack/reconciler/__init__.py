"""The OU-tag reconciler unit: its Lambda's CDK construct (`infrastructure`) beside its `runtime/`."""

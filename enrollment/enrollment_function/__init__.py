"""The enrollment function unit (management account or StackSets delegated administrator): it
connects each new spoke stack instance to the hub and disconnects accounts that leave; its CDK
construct (`infrastructure`) beside its `runtime/`."""

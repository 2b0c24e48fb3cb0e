"""The connection unit: the function that runs in the hub and in every spoke and grants or
revokes the cross-account EventBridge wiring (EBPut, EBRule, Disconnect); its CDK construct
(`infrastructure`) beside its `runtime/`."""

/**
 * etcd's answers that retrying cannot change, by message, shared by the gRPC client's error
 * mapping (etcd-connection.ts) and the JSON gateway's (etcd-gateway.ts, which must not load
 * the gRPC client): a request refused as malformed or too big fails the same way every time.
 */
export const refusedRequestMessage = /too many operations in txn request|request is too large|duplicate key given in txn request/i;

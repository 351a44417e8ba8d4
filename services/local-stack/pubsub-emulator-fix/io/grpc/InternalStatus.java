// Stands in for grpc-api's io.grpc.InternalStatus in the Pub/Sub emulator 0.8.20, whose fat jar pairs grpc-core 1.68.1 with an older grpc-api that lacks asRuntimeException(Status, Metadata, boolean).
//
// Without it, io.grpc.internal.ServerImpl throws NoSuchMethodError whenever a call ends without a
// cause (a client's connection lost, a RST_STREAM): the call's listener is never closed, so the
// emulator's StreamingPull keeps leasing messages to a stream nobody reads (see chaos/EMULATOR.md).
// The local stack runs the emulator with this class ahead of its jar (services/local-stack/pubsub-emulator.ts
// compiles it once with javac); our own code, written against grpc-api's public signatures.
package io.grpc;

public final class InternalStatus {
  private InternalStatus() {}

  public static final Metadata.Key<String> MESSAGE_KEY = Status.MESSAGE_KEY;
  public static final Metadata.Key<Status> CODE_KEY = Status.CODE_KEY;

  public static StatusRuntimeException asRuntimeExceptionWithoutStacktrace(Status status, Metadata trailers) {
    return new InternalStatusRuntimeException(status, trailers);
  }

  public static StatusRuntimeException asRuntimeException(Status status, Metadata trailers, boolean fillInStackTrace) {
    return fillInStackTrace ? new StatusRuntimeException(status, trailers) : new InternalStatusRuntimeException(status, trailers);
  }
}

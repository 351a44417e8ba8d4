// How the emulator experiment numbers its messages and reads the emulator's ack ids, for the publisher, the subscriber process and the drain alike.
import { v1 } from '@google-cloud/pubsub';
import { credentials } from '@grpc/grpc-js';

/** Message n's data: its number, a colon, then padding up to sizeBytes. */
export function payload(n: number, sizeBytes: number): Buffer {
  const head = `${n}:`;
  return Buffer.from(head.padEnd(Math.max(sizeBytes, head.length), 'x'), 'latin1');
}

export function numberOf(data: Buffer | Uint8Array | string): number {
  return Number.parseInt(Buffer.from(data).toString('latin1'), 10);
}

/** The emulator's ack ids are `<subscription>:<counter>`, one counter for every lease it grants (from 1). */
export function ackCounter(ackId: string): number {
  return Number(ackId.slice(ackId.lastIndexOf(':') + 1));
}

/** A plain (unary Pull / Acknowledge) subscriber client for the emulator at host:port. */
export function unaryClient(host: string): v1.SubscriberClient {
  const i = host.lastIndexOf(':');
  return new v1.SubscriberClient({ servicePath: host.slice(0, i), port: Number(host.slice(i + 1)), sslCreds: credentials.createInsecure() });
}

// Where the server's pino lines go. A pipe or socket on stdout (a log shipper, `| head`) can stop being
// read; a synchronous write would then block the event loop, and streaming and shutdown with it. So lines
// to a pipe or socket go out asynchronously through a bounded buffer, and are dropped (and counted) when
// it is full. Files and terminals are written synchronously, as pino does by default: they do not stall.
import { fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { pino, type DestinationStream } from 'pino';

/** Bytes of log lines held for a slow reader before lines are dropped. */
export const LOG_BUFFER_BYTES = 1024 * 1024;

/** A pino destination that never blocks the process. */
export interface LogDestination extends DestinationStream {
  /** Lines dropped so far because the reader fell behind by more than the buffer, or went away. */
  readonly droppedLines: number;
}

// One per descriptor for the whole process: each server of a process logs through the same one.
const destinations = new Map<number, LogDestination>();

/** The destination for descriptor `fd` (stdout by default); see the top of this file. */
export function logDestination(fd = 1, maxBufferBytes = LOG_BUFFER_BYTES): LogDestination {
  let destination = destinations.get(fd);
  if (!destination) {
    destination = isPipeOrSocket(fd) ? boundedDestination(fd, maxBufferBytes) : synchronousDestination(fd);
    destinations.set(fd, destination);
  }
  return destination;
}

function isPipeOrSocket(fd: number): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

function synchronousDestination(fd: number): LogDestination {
  const stream = pino.destination({ dest: fd, sync: true });
  return { write: (line: string) => void stream.write(line), droppedLines: 0 };
}

function boundedDestination(fd: number, maxBufferBytes: number): LogDestination {
  // libuv makes the descriptor non-blocking and writes when the reader makes room; pending lines are the
  // socket's writableLength.
  const socket = new Socket({ fd, readable: false, writable: true });
  let dropped = 0;
  let broken = false;
  // Never close the descriptor (an error destroys the socket): a free fd 1 would be reused by the next
  // socket or file opened, and process.stdout would write into that.
  socket._destroy = (err, callback) => callback(err);
  socket.on('error', () => {
    broken = true; // EPIPE: nobody will ever read; every later line counts as dropped
  });
  // Lines still waiting for a stalled reader must not keep the process alive.
  socket.unref();
  return {
    write(line: string) {
      if (broken || socket.writableLength + line.length > maxBufferBytes) dropped++;
      else socket.write(line);
    },
    get droppedLines() {
      return dropped;
    },
  };
}

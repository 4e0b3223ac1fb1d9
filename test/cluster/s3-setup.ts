// vitest globalSetup of the projects that start S3 servers (mover, sites): builds versitygw
// (cached) before any test runs, so that a cold build (minutes of compiling on every core)
// happens in the setup phase and never beside the timing-sensitive tests of other projects.
import { buildS3Server } from './s3.ts';

export default async function setup(): Promise<void> {
  await buildS3Server();
}

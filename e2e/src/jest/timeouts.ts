// Each e2e test talks to real processes; a cold API server on a loaded two-core machine is slow.
import { jest } from "@jest/globals";

jest.setTimeout(60_000);

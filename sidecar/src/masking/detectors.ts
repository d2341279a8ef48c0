// The built-in detectors by the names AccessPolicy masking rules use
// (spec.masking[].detectors), each compiled once per process.
import type { Detector } from "./detector.js";
import { creditCard, iban } from "./detect-payment.js";
import { ipAddress } from "./detect-network.js";
import { email, phone, usSSN } from "./detect-personal.js";
import { apiKey, jwt } from "./detect-secrets.js";
import { DETECTOR_WINDOW, compileRe2, findSpans, type Span } from "./re2-search.js";

export type DetectorName = "email" | "phone" | "creditCard" | "iban" | "usSSN" | "ipAddress" | "jwt" | "apiKey";

const DETECTORS: Record<DetectorName, Detector> = { email, phone, creditCard, iban, usSSN, ipAddress, jwt, apiKey };

export function isDetectorName(name: string): name is DetectorName {
  return Object.hasOwn(DETECTORS, name);
}

/** The parts of `text` the detector recognises, left to right, not overlapping. */
export function detect(name: DetectorName, text: string): Span[] {
  const detector = DETECTORS[name];
  if (!detector.mayContain(text)) return [];
  return findSpans(compileRe2(detector.pattern), text, DETECTOR_WINDOW, detector.accept);
}

import { CtsyncError } from '../../core/errors';
import type { WirePayloadReason } from './stats';

export const CTSYNC_ERR_WIRE = 'CTSYNC_ERR_WIRE';

/**
 * The one error the wire decoders throw (spec §3.4: the whole message is rejected). `reason`
 * names the WireRxStats sub-counter to bump, so callers count it without string matching.
 */
export class WireDecodeError extends CtsyncError {
  constructor(
    readonly reason: WirePayloadReason,
    message: string,
  ) {
    super(CTSYNC_ERR_WIRE, message);
    this.name = 'WireDecodeError';
  }
}

/** Thrown by the packer/encoders for a message that can never be sent (spec §1.4 bug guard). */
export class WireEncodeError extends CtsyncError {
  constructor(message: string) {
    super(CTSYNC_ERR_WIRE, message);
    this.name = 'WireEncodeError';
  }
}

// The OCSP responder: any request bytes -> a DER OCSPResponse, status from the store, signed by the
// HSM key; garbage gets malformedRequest, HSM trouble tryLater, other failures internalError. Never throws.
import type { KeyObject } from "node:crypto";
import { verifySignature } from "./algorithms.js";
import type { Signer } from "./certificate.js";
import { DerError } from "./der.js";
import {
  assembleOcspResponse,
  buildResponseData,
  OCSP_STATUS,
  type OcspIssuerHashes,
  ocspError,
  parseOcspRequest,
  type SingleStatus,
} from "./ocsp.js";

export interface OcspResponderDeps {
  issuer: OcspIssuerHashes;
  signer: Signer;
  publicKey: KeyObject;
  /** status by lower-case hex serial */
  lookup: (serialHex: string) => Promise<SingleStatus>;
  lifetimeSeconds: number;
  now: () => Date;
  onError?: (e: unknown) => void;
}

export interface OcspAnswer {
  der: Buffer;
  /** seconds the response may be cached (0 for errors and nonce responses) */
  maxAge: number;
}

export class OcspResponder {
  constructor(private readonly d: OcspResponderDeps) {}

  async respond(request: Buffer): Promise<OcspAnswer> {
    let req: ReturnType<typeof parseOcspRequest>;
    try {
      req = parseOcspRequest(request);
    } catch (e) {
      if (!(e instanceof DerError)) this.d.onError?.(e);
      return { der: ocspError(OCSP_STATUS.malformedRequest), maxAge: 0 };
    }
    try {
      if (!req.requests.every((r) => this.d.issuer.matches(r)))
        return { der: ocspError(OCSP_STATUS.unauthorized), maxAge: 0 };
      const now = this.d.now();
      const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
      const nextUpdate = new Date(thisUpdate.getTime() + this.d.lifetimeSeconds * 1000);
      const singles = await Promise.all(
        req.requests.map(async (r) => ({
          certId: r.certId,
          status: await this.d.lookup(r.serial.toString("hex")),
          thisUpdate,
          nextUpdate,
        })),
      );
      const data = buildResponseData(this.d.issuer, thisUpdate, singles, req.nonceExtension);
      const alg = this.d.issuer.issuer.signatureAlgorithm;
      let sig: Buffer;
      try {
        sig = await this.d.signer.sign(data, alg);
      } catch (e) {
        // the HSM is unavailable: a transient condition clients should retry (RFC 6960 tryLater)
        this.d.onError?.(e);
        return { der: ocspError(OCSP_STATUS.tryLater), maxAge: 0 };
      }
      if (!verifySignature(alg, this.d.publicKey, data, sig)) throw new Error("OCSP signature does not verify");
      return {
        der: assembleOcspResponse(data, alg, sig),
        maxAge: req.nonceExtension ? 0 : this.d.lifetimeSeconds,
      };
    } catch (e) {
      this.d.onError?.(e);
      return { der: ocspError(OCSP_STATUS.internalError), maxAge: 0 };
    }
  }
}

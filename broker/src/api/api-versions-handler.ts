/**
 * ApiVersions (API 18, KIP-511): the versions this listener advertises, and the broker's features.
 *
 * A request above our maximum gets UNSUPPORTED_VERSION with the ApiKeys list in a v0 body (the connection
 * writes it at v0), so the client can retry with a version we support. v3+ validates the client software
 * name and version and answers INVALID_REQUEST when either is malformed.
 */
import {
  apiVersionsRequestMeta, defaultApiVersionsResponse, defaultApiVersionsResponseApiVersion,
  defaultApiVersionsResponseFinalizedFeatureKey, defaultApiVersionsResponseSupportedFeatureKey,
  type ApiVersionsRequest, type ApiVersionsResponse,
} from '../protocol/generated/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { isValidClientSoftware, type VersionRange } from '../server/api-versions.ts';
import type { RequestContext } from '../server/request-context.ts';

export interface SupportedFeature {
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
}

export interface ApiVersionsDeps {
  readonly advertised: () => ReadonlyMap<number, VersionRange>;
  readonly supportedFeatures: readonly SupportedFeature[];
  /** Finalized feature levels and the metadata offset they were read at. */
  readonly finalizedFeatures: () => { readonly epoch: bigint; readonly levels: ReadonlyMap<string, number> };
}

export function createApiVersionsHandler(deps: ApiVersionsDeps) {
  return (ctx: RequestContext, request: ApiVersionsRequest): ApiVersionsResponse => {
    const response = defaultApiVersionsResponse();
    for (const [apiKey, range] of deps.advertised()) {
      const entry = defaultApiVersionsResponseApiVersion();
      entry.apiKey = apiKey;
      entry.minVersion = range.min;
      entry.maxVersion = range.max;
      response.apiKeys.push(entry);
    }
    if (ctx.apiVersion > apiVersionsRequestMeta.maxVersion) {
      response.errorCode = ErrorCode.UNSUPPORTED_VERSION;
      return response;
    }
    if (ctx.apiVersion >= 3 && !isValidClientSoftware(request.clientSoftwareName, request.clientSoftwareVersion)) {
      response.errorCode = ErrorCode.INVALID_REQUEST;
      return response;
    }
    if (ctx.apiVersion >= 3) {
      for (const f of deps.supportedFeatures) {
        // Before v4, features whose minimum is 0 are left out (KAFKA-17011: old clients reject them).
        if (ctx.apiVersion < 4 && f.minVersion === 0) continue;
        const s = defaultApiVersionsResponseSupportedFeatureKey();
        s.name = f.name;
        s.minVersion = f.minVersion;
        s.maxVersion = f.maxVersion;
        response.supportedFeatures.push(s);
      }
      const finalized = deps.finalizedFeatures();
      response.finalizedFeaturesEpoch = finalized.epoch;
      for (const [name, level] of finalized.levels) {
        const f = defaultApiVersionsResponseFinalizedFeatureKey();
        f.name = name;
        f.minVersionLevel = level;
        f.maxVersionLevel = level;
        response.finalizedFeatures.push(f);
      }
    }
    return response;
  };
}

/** One-line errors for Hub failures: each names the repository (and file) and says what to do. */
import { NeoxError } from '../types';

export type HubErrorCode = 'hub_unauthorized' | 'hub_not_found' | 'hub_checksum' | 'hub_offline' | 'hub_no_space' | 'hub_http' | 'hub_network' | 'hub_not_a_model' | 'hub_declined';

export function hubError(message: string, code: HubErrorCode | string): NeoxError {
  return new NeoxError(message, code);
}

/**
 * The error for an HTTP failure status. `what` names the thing asked for ("EleutherAI/pythia-1.4b@main",
 * or "... file config.json"); `tokenSent` says whether an access token went with the request. The Hub
 * answers 401 both for a gated/private repository without a token and for one that does not exist
 * (it does not reveal private names), so the 401 message covers both.
 */
export function httpStatusError(status: number, what: string, opts: { tokenSent: boolean; errorCode?: string; endpoint: string }): NeoxError {
  if (status === 401 || status === 403) {
    const why = opts.tokenSent
      ? status === 403
        ? 'the access token (HF_TOKEN) does not grant access: accept the model\'s terms on its Hub page, or use a token with read access'
        : 'the access token (HF_TOKEN) was refused'
      : 'the repository is gated or private (or does not exist): accept its terms on the Hub and set HF_TOKEN to an access token (or run `huggingface-cli login`)';
    return hubError(`${what}: the Hub refused access (${status}): ${why}`, 'hub_unauthorized');
  }
  if (status === 404) {
    const kind =
      opts.errorCode === 'RevisionNotFound' ? 'revision not found' : opts.errorCode === 'EntryNotFound' ? 'file not found' : opts.errorCode === 'RepoNotFound' ? 'repository not found' : 'not found';
    return hubError(`${what}: ${kind} on ${opts.endpoint} (404): check the repository name and revision`, 'hub_not_found');
  }
  return hubError(`${what}: the Hub answered HTTP ${status}`, 'hub_http');
}

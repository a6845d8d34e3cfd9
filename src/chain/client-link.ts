// Client identification: who is asking (school and age group), from the client address.
// The CIDR table that answers this comes with the policies (issue 3); until then every
// client gets the identifier it is given, by default UNKNOWN_CLIENT.
import { ClientInfo, Handler, UNKNOWN_CLIENT } from './types';

/** Who is asking, from the client's address and the address of the listener it reached. */
export type ClientIdentifier = (address: string, localAddress: string) => ClientInfo;

export const unknownClient: ClientIdentifier = () => UNKNOWN_CLIENT;

export function clientLink(identify: ClientIdentifier): Handler {
  return (ctx, next) => {
    ctx.client = identify(ctx.remoteAddress, ctx.localAddress);
    return next(ctx);
  };
}

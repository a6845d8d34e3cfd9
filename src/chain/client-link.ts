// Client identification: who is asking (school and age group), from the client address.
// The CIDR table that answers this comes with the policies (issue 3); until then every
// client gets the identifier it is given, by default UNKNOWN_CLIENT.
import { ClientInfo, Handler, UNKNOWN_CLIENT } from './types';

export type ClientIdentifier = (address: string, localPort: number) => ClientInfo;

export const unknownClient: ClientIdentifier = () => UNKNOWN_CLIENT;

export function clientLink(identify: ClientIdentifier): Handler {
  return (ctx, next) => {
    ctx.client = identify(ctx.remoteAddress, ctx.remotePort);
    return next(ctx);
  };
}

import { OTP_GRANT } from "@meshauth/core";
import type { OtpService } from "../otp-service.js";
import type { TokenService } from "../tokens.js";
import type { Grant } from "./registry.js";

/** meshauth's email-code grant: the `otp_id` from POST /otp and the code from the email. */
export function otpGrant(deps: { otp: OtpService; tokens: TokenService }): Grant {
  return {
    grantType: OTP_GRANT,
    parameters: ["otp_id", "otp"],
    clientAuthentication: "optional",
    dpop: {},
    async handle({ params, client, proof }) {
      const email = await deps.otp.verify(client, params.otp_id, params.otp);
      return deps.tokens.login({
        app: client,
        userId: email,
        provider: "otp",
        permissions: client.defaultPermissions,
        userInfo: { email },
        profile: { email },
        jkt: (proof as NonNullable<typeof proof>).jkt,
      });
    },
  };
}

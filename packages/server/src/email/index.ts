export {
  DEV_MAILBOX_CAPACITY,
  DevMailbox,
  type DevMailboxMessage,
  type DevMailboxOptions,
  type LogFn,
} from "./dev-mailbox.js";
export {
  type CreateMailerOptions,
  createMailer,
  describeSmtpUrl,
  type Mailer,
  type OutgoingEmail,
  SMTP_TIMEOUTS,
  SmtpMailer,
} from "./mailer.js";
export {
  DEFAULT_HTML,
  DEFAULT_HTML_WITH_LINK,
  DEFAULT_SUBJECT,
  DEFAULT_TEXT,
  DEFAULT_TEXT_WITH_LINK,
  escapeHtml,
  fillTemplate,
  type LoginEmailInput,
  magicLink,
  PLACEHOLDERS,
  type Placeholder,
  type RenderedEmail,
  renderLoginEmail,
  singleLine,
} from "./render.js";
export {
  DEV_MAILBOX_BANNER,
  type DevMailboxRoutesOptions,
  devMailboxHtml,
  devMailboxRoutes,
} from "./routes.js";
export { defaultSenderFor, type LoginCodeEmail, loginCodeSender } from "./send-login-code.js";

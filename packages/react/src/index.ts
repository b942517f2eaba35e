export type {
  Alert,
  AnonymousUser,
  CurrentUser,
  EmailInteraction,
  Field,
  FieldType,
  GenericInteraction,
  LoggedInUser,
  LoginOption,
  LogoutConfirmationInteraction,
  MeshauthClient,
  MessageAlertInteraction,
  MessageCode,
  ObservableValue,
  OtpInteraction,
  ProviderInteraction,
  SessionStatus,
  UserInteraction,
  UserInteractionType,
} from "@meshauth/client";
export { resolveText } from "@meshauth/client";
export { MeshauthProvider, type MeshauthProviderProps, useMeshauth } from "./context.js";
export { useCurrentUser, useObservable, useUserInteraction } from "./hooks.js";
export { LoginDialog, type LoginDialogPart, type LoginDialogProps } from "./login-dialog.js";

// examples/serve.mjs serves /config.js, which sets these before the page's script runs.
declare global {
  interface Window {
    MESHAUTH: {
      /** The hub's URL (its issuer), e.g. http://127.0.0.1:4000. */
      hub: string;
      /** The app's ID: the demo app that `npm start` creates, unless MESHAUTH_APP_ID says otherwise. */
      appId: string;
    };
  }
}

export {};

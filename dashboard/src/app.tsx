// The dashboard's entry: restores a saved sign-in, then shows the sign-in form or the app.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, setToken, whoAmI } from "./api";
import { session, useAtom } from "./state";
import { dropAll } from "./store";
import { App } from "./views/App";
import { SignIn } from "./views/SignIn";
import "./app.css";

const KEY = "skiff.token";

function Root() {
  const s = useAtom(session);
  const [restoring, setRestoring] = useState(() => !!(sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY)));
  const [reason, setReason] = useState<string | undefined>();

  const signOut = (why?: string) => {
    sessionStorage.removeItem(KEY);
    localStorage.removeItem(KEY);
    dropAll();
    setToken("");
    session.set(null);
    setReason(why);
  };
  const unauthorized = () => signOut("The server no longer accepts your token: sign in again.");

  useEffect(() => {
    const saved = sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY);
    if (!saved) return;
    setToken(saved, unauthorized);
    whoAmI()
      .then((who) => session.set({ token: saved, ...who }))
      .catch((e: ApiError) => (e.code === 401 ? signOut("Your saved sign-in has expired: sign in again.") : setReason(e.message)))
      .finally(() => setRestoring(false));
  }, []);

  if (restoring && !s) return <p class="boot">Signing in…</p>;
  if (!s)
    return (
      <SignIn
        reason={reason}
        onSignedIn={(token, remember, who) => {
          (remember ? localStorage : sessionStorage).setItem(KEY, token);
          setToken(token, unauthorized);
          setReason(undefined);
          session.set({ token, ...who });
        }}
      />
    );
  return <App onSignOut={() => signOut()} />;
}

const root = document.getElementById("app")!;
root.textContent = ""; // the static "Loading…" placeholder
render(<Root />, root);

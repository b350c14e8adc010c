// Sign-in with a bearer token, or the token of a kubeconfig (pasted or chosen as a file).
// The token stays in this browser (the tab, or this device if asked); the server keeps nothing.
import { useState } from "preact/hooks";
import { ApiError, setToken, whoAmI } from "../api";
import { tokenFrom } from "../kubeconfig";
import { ErrorNote, Logo } from "../ui";

export function SignIn(p: { onSignedIn: (token: string, remember: boolean, who: { username: string; groups: string[] }) => void; reason?: string }) {
  const [text, setText] = useState("");
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<Error | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    let token: string;
    try {
      token = tokenFrom(text);
    } catch (err) {
      return setError(err as Error);
    }
    if (!token) return setError(new Error("paste a token or a kubeconfig first"));
    setBusy(true);
    setToken(token);
    try {
      const who = await whoAmI();
      p.onSignedIn(token, remember, who);
    } catch (err) {
      const a = err as ApiError;
      setError(a.code === 401 ? new Error("the server did not accept this token (expired, revoked or mistyped)") : a);
      setToken("");
    } finally {
      setBusy(false);
    }
  };

  const onFile = async (e: Event) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) setText(await f.text());
  };

  return (
    <main class="signin" id="main">
      <form class="card signin-card" onSubmit={submit}>
        <h1>
          <Logo /> Skiff
        </h1>
        <p class="muted">Sign in with a bearer token or a kubeconfig. Every request is made as that user, so RBAC decides what you see.</p>
        {p.reason ? <p class="note warn">{p.reason}</p> : null}
        <label for="token">Token or kubeconfig</label>
        <textarea id="token" rows={5} value={text} spellcheck={false} autocomplete="off" placeholder="eyJhbGciOi… or the contents of kubeconfig.yaml" onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        <label class="file">
          Or choose a kubeconfig file <input type="file" accept=".yaml,.yml,.conf,text/*" onChange={onFile} />
        </label>
        <label class="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember((e.target as HTMLInputElement).checked)} /> Remember on this device
        </label>
        {error ? <ErrorNote error={error} /> : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p class="muted small">
          The admin token is in the server's kubeconfig (<code>/var/lib/skiff/kubeconfig.yaml</code>). A read-only one: <code>kubectl create token NAME</code> for a ServiceAccount bound to <code>view</code>.
        </p>
      </form>
    </main>
  );
}

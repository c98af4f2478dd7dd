// The sign-in screen when the server is not in dev mode (auth.js does the work): a user name
// and password form for the local stack's Cognito ("cognito-local"), a "Sign in" button that
// goes to the provider ("oidc"). A session kept from before signs in at once.

import { $ } from "./dom.js";
import { Auth } from "./auth.js";

function showError(err) {
  $("signin-error").textContent = err?.message || String(err);
  $("signin-error").hidden = false;
}

// Calls signedIn(user, auth) once somebody is signed in; user is {id, name}.
export async function startSignIn(config, signedIn) {
  const auth = new Auth(config);
  $("login-form").hidden = true;
  $("signin").hidden = false;
  const local = auth.mode === "cognito-local";
  $("signin-form").hidden = !local;
  $("oidc-signin").hidden = local;
  if (auth.mode === "oidc") {
    try {
      const back = await auth.finishSignIn(new URLSearchParams(location.search));
      if (back) return signedIn(back, auth);
    } catch (err) {
      showError(err);
    }
  }
  if (auth.user()) {
    auth.schedule();
    return signedIn(auth.user(), auth);
  }
  $("oidc-signin").onclick = () => auth.beginSignIn().catch(showError);
  const submit = async (event, up) => {
    event.preventDefault();
    const [name, password] = [$("signin-user").value.trim(), $("signin-password").value];
    if (!name || !password) return showError(new Error("Enter a user name and a password"));
    try {
      signedIn(await (up ? auth.signUp(name, password) : auth.signIn(name, password)), auth);
    } catch (err) {
      showError(err);
    }
  };
  $("signin-form").onsubmit = (event) => submit(event, false);
  $("signup-btn").onclick = (event) => submit(event, true);
}

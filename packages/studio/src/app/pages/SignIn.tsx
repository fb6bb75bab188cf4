import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ErrorBox } from '../components/common.js';
import { api } from '../lib/api.js';

/** Paste a workspace bearer token; the server answers with a session cookie. */
export function SignIn() {
  const client = useQueryClient();
  const [token, setToken] = useState('');
  const login = useMutation({
    mutationKey: ['login'],
    mutationFn: (value: string) => api.login(value),
    onSuccess: () => client.invalidateQueries(),
  });
  return (
    <div className="signin">
      <form
        data-testid="signin-form"
        onSubmit={(event) => {
          event.preventDefault();
          if (token.trim()) login.mutate(token.trim());
        }}
      >
        <h1>Sluice studio</h1>
        <p>
          Paste a workspace token (<code>sluice token create</code>), or open the link{' '}
          <code>sluice studio</code> printed.
        </p>
        <label>
          Token
          <input
            type="password"
            name="token"
            autoComplete="off"
            autoFocus
            value={token}
            onChange={(event) => setToken(event.target.value)}
          />
        </label>
        <button type="submit" className="primary" disabled={login.isPending || !token.trim()}>
          Sign in
        </button>
        {login.isError && <ErrorBox error={login.error} />}
      </form>
    </div>
  );
}

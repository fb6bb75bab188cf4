import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { App } from './App.js';
import { ApiError } from './lib/api.js';

// a session that ended (expired, or the server restarted) shows the sign-in form again: any answer 401 makes
// the studio ask `/whoami` once more, whose own 401 shows the form
const sessionEnded = (error: unknown) => error instanceof ApiError && error.status === 401;
const askWhoAmI = () => void client.invalidateQueries({ queryKey: ['whoami'] });

const client: QueryClient = new QueryClient({
  queryCache: new QueryCache({
    onError: (error, query) => {
      if (sessionEnded(error) && query.queryKey[0] !== 'whoami') askWhoAmI();
    },
  }),
  mutationCache: new MutationCache({
    onError: (error, _variables, _context, mutation) => {
      // (a refused sign-in says why on its own form)
      if (sessionEnded(error) && mutation.options.mutationKey?.[0] !== 'login') askWhoAmI();
    },
  }),
  defaultOptions: {
    queries: {
      // the server's events keep what is shown current: no refetching on focus or on an interval
      staleTime: 15_000,
      refetchOnWindowFocus: false,
      retry: (count, error) =>
        !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
    },
  },
});

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={client}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);

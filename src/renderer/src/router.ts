import { createRouter, createWebHashHistory } from 'vue-router';

// One route per screen. Hash history: the same URLs work from file:// (desktop) and from
// `nanolab serve` (browser), with no server-side routing.
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
    { path: '/', redirect: '/runs' },
    { path: '/runs', name: 'runs', component: () => import('./views/RunsView.vue') },
    { path: '/new', name: 'new', component: () => import('./views/NewRunView.vue') },
    { path: '/runs/:id', name: 'run', component: () => import('./views/LiveRunView.vue'), props: (r) => ({ id: Number(r.params['id']) }) },
    { path: '/compare', name: 'compare', component: () => import('./views/CompareView.vue') },
    { path: '/sample', name: 'sample', component: () => import('./views/SampleView.vue') },
    { path: '/embeddings', name: 'embeddings', component: () => import('./views/EmbeddingsView.vue') },
    { path: '/attention', name: 'attention', component: () => import('./views/AttentionView.vue') },
    { path: '/masks', name: 'masks', component: () => import('./views/MaskExplorerView.vue') },
    { path: '/arithmetic', name: 'arithmetic', component: () => import('./views/AttentionArithmeticView.vue') },
    { path: '/translate', name: 'translate', component: () => import('./views/TranslateView.vue') },
    // the desktop app's hidden window that trains GPU runs (App.vue starts its executor)
    { path: '/gpu-host', name: 'gpu-host', component: () => import('./views/GpuHostView.vue') },
  ],
});

import { createPinia } from 'pinia';
import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router';
import './styles.css';

// A file (or link) dropped where no drop zone takes it would replace the page with that file
// (the desktop app also refuses the navigation). Drop zones handle their drops and mark them
// handled; every other drop is refused with the no-drop cursor, except text dragged into a field.
function refuseStrayDrop(event: DragEvent): void {
  if (event.defaultPrevented) return;
  const carriesFiles = event.dataTransfer?.types.includes('Files') ?? false;
  const target = event.target;
  const editable = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || (target instanceof HTMLElement && target.isContentEditable);
  if (editable && !carriesFiles) return;
  event.preventDefault();
  if (event.dataTransfer) event.dataTransfer.dropEffect = 'none';
}
document.addEventListener('dragover', refuseStrayDrop);
document.addEventListener('drop', refuseStrayDrop);

createApp(App).use(createPinia()).use(router).mount('#app');

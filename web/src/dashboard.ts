// The dashboard's small behaviours, on every page: new chat alerts (alerts.ts), confirmation
// before destructive forms, selects that submit themselves, and the settings page's live
// preview of the masks — made by the very functions the recorder uses (masking.ts), so what
// the owner sees is what recordings will hold.

import { maskText, maskValue, type MaskRules } from './masking';
import './share';
import './downloads';
import { setupAlerts } from './alerts';

function checked(name: string): boolean {
  const box = document.querySelector<HTMLInputElement>(`input[data-setting="${name}"]`);
  return !!box && box.checked;
}

function rules(): MaskRules {
  return {
    forms: checked('record_forms'),
    numbers: checked('record_numbers'),
    emails: checked('record_emails'),
    allNumbers: checked('mask_all_numbers'),
  };
}

function show(id: string, kind: string, mask: (value: string, r: MaskRules) => string): void {
  const input = document.getElementById(id) as HTMLInputElement | null;
  const output = document.querySelector<HTMLOutputElement>(`output[data-preview="${kind}"]`);
  if (input && output) output.textContent = mask(input.value, rules());
}

function update(): void {
  if (!document.querySelector('output[data-preview]')) return;
  show('preview-text', 'text', (v, r) => maskText(v, r));
  show('preview-typed', 'typed', (v, r) => maskValue(v, r, false));
  show('preview-password', 'password', (v, r) => maskValue(v, r, true));
}

function setup(): void {
  setupAlerts();
  document.addEventListener('input', update);
  document.addEventListener('change', update);
  update();
  for (const select of document.querySelectorAll<HTMLSelectElement>('select[data-autosubmit]')) {
    select.addEventListener('change', () => select.form && select.form.submit());
  }
  for (const form of document.querySelectorAll<HTMLFormElement>('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.dataset.confirm || 'Are you sure?')) event.preventDefault();
    });
  }
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', setup);
else setup();

// Mustache rendering for config files: logic-less, and with HTML escaping off
// (these are shell scripts and config files, not web pages).
import Mustache from 'mustache';

export function render(template: string, view: object): string {
  return Mustache.render(template, view, {}, { escape: (s: string) => s });
}

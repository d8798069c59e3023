/**
 * Reads the registration files `app_service_config_files` names, at start-up:
 * each a YAML document as bridges generate it (see registration-rules.ts).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { AppServiceRegistration } from '../domain/appservice.js';
import { checkDistinct, parseRegistration, RegistrationError } from './registration-rules.js';

export function loadRegistrations(files: readonly string[]): AppServiceRegistration[] {
  const registrations = files.map((file) => parseRegistration(readYaml(file), file));
  checkDistinct(registrations);
  return registrations;
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RegistrationError(`${file}: cannot be read (${(error as Error).message})`);
  }
  try {
    return parseYaml(text);
  } catch (error) {
    throw new RegistrationError(`${file}: is not valid YAML (${(error as Error).message})`);
  }
}

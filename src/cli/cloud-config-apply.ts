import { KeelError } from '../errors.js';
import type { Command } from './command.js';

export const planCommand: Command = {
  name: 'plan',
  summary: '(not implemented yet)',
  async run() {
    throw new KeelError('internal', 'plan: not implemented yet');
  },
};

export const applyCommand: Command = {
  name: 'apply',
  summary: '(not implemented yet)',
  async run() {
    throw new KeelError('internal', 'apply: not implemented yet');
  },
};

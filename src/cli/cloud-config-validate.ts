import { KeelError } from '../errors.js';
import type { Command } from './command.js';

export const validateCommand: Command = {
  name: 'validate',
  summary: '(not implemented yet)',
  async run() {
    throw new KeelError('internal', 'validate: not implemented yet');
  },
};

export const schemaCommand: Command = {
  name: 'schema',
  summary: '(not implemented yet)',
  async run() {
    throw new KeelError('internal', 'schema: not implemented yet');
  },
};

/** PostgreSQL tables of this area (see ../migrations.ts for the conventions). */
export const relationsPushSchema = `
`;

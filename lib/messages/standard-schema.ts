/**
 * The Standard Schema v1 interface (https://standardschema.dev), copied as its authors recommend
 * so that the published declarations need no dependency: Zod, Valibot, ArkType and others
 * implement it, so their schemas are accepted as they are. Types only.
 */

/** A schema in the Standard Schema v1 format. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaV1.Props<Input, Output>
}

// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace StandardSchemaV1 {
  /** The Standard Schema properties. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version of the standard. */
    readonly version: 1
    /** The schema library. */
    readonly vendor: string
    /** Validates an unknown value; may return a promise (refused here: see `validate.ts`). */
    readonly validate: (value: unknown, options?: Options | undefined) => Result<Output> | Promise<Result<Output>>
    /** The inferred types. */
    readonly types?: Types<Input, Output> | undefined
  }
  /** Options of `validate`. */
  export interface Options {
    readonly libraryOptions?: Record<string, unknown> | undefined
  }
  /** What `validate` returns. */
  export type Result<Output> = SuccessResult<Output> | FailureResult
  /** A valid value. */
  export interface SuccessResult<Output> {
    readonly value: Output
    readonly issues?: undefined
  }
  /** An invalid value. */
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>
  }
  /** One problem of an invalid value. */
  export interface Issue {
    readonly message: string
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined
  }
  /** A segment of an issue's path. */
  export interface PathSegment {
    readonly key: PropertyKey
  }
  /** The input and output types. */
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input
    readonly output: Output
  }
  /** The type a schema accepts. */
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['input']
  /** The type a schema produces. */
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output']
}
